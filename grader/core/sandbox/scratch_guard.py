"""The from-scratch rule, enforced inside a sandboxed child: while a probe of a question the
rubric marks `from_scratch` runs student code, no forward pass, loss or gradient may be
computed by an automatic-differentiation library (torch, jax, tensorflow, autograd...).

Loaded by path from the sandbox's ctl/ folder next to sandbox_child.py (standard library
only; it imports torch never, and uses it only when student code already imported it).
While a Guard watches:
- a finder first on sys.meta_path refuses to import those libraries when they are not
  imported yet (ScratchImportError, an ImportError, so `try: import torch / except
  ImportError:` keeps working);
- when torch is already imported (the student file imports it at the top: allowed while
  unused), a TorchFunctionMode and a TorchDispatchMode are on torch's mode stacks, so every
  torch function, tensor method and operator raises ScratchError, and the first one is
  recorded, even if student code catches the error;
- threads get the same modes (torch's mode stacks are per thread), also those started at
  import, which act only while the guard watches;
- the names that switch torch's modes off (SWITCHES: torch._C.DisableTorchFunction,
  _DisableTorchDispatch, _disable_current_modes...) raise and record a violation.
The student file's own import runs outside the guard (Guard.suspended): its top-level
`import torch` is not a computation. At the end the guard also checks that its finder and
modes are still in place (a submission that removed them is recorded as a violation).
Not watched: a computation moved to another process (a fresh interpreter started with
subprocess or multiprocessing has no guard; tests/core/test_hostile.py's submissions start and
leave processes on purpose, and the sandbox cleans them up).

The record the child reports (Guard.verdict) is a failure of kind "from_scratch" naming
the student's function and what it called, e.g. "loss() called torch.autograd.grad".
"""
import contextlib
import importlib.machinery
import os
import sys
import threading
import _thread

# Libraries whose computations do not count as from scratch (top-level package names).
BLOCKED = ("torch", "torchvision", "torchaudio", "functorch", "jax", "jaxlib", "flax",
           "tensorflow", "keras", "autograd", "tinygrad", "mxnet", "paddle", "chainer")
# What switches torch's modes off (module, name): while the guard watches, a call through
# these names is a violation (a reference saved before is not seen).
SWITCHES = (("torch._C", "DisableTorchFunction"), ("torch._C", "_DisableTorchDispatch"),
            ("torch._C", "_pop_torch_function_stack"), ("torch._C", "_pop_torch_dispatch_stack"),
            ("torch._C", "_ExcludeDispatchKeyGuard"), ("torch._C", "_set_torch_function_state"),
            ("torch._C", "_unset_dispatch_mode"), ("torch.overrides", "_pop_mode"),
            ("torch.overrides", "_pop_mode_temporarily"),
            ("torch.utils._python_dispatch", "_disable_current_modes"),
            ("torch.utils._python_dispatch", "_pop_mode"),
            ("torch.utils._python_dispatch", "_pop_mode_temporarily"))
KIND = "from_scratch"
DETAIL = ("This question is graded on code that computes from scratch: numpy (and the "
          "standard library) only, no torch, jax, tensorflow or autograd in the forward "
          "pass, the loss or the gradients.")


class ScratchError(RuntimeError):
    """Raised in student code that computes with a blocked library while a Guard watches."""

    from_scratch = True


class ScratchImportError(ImportError):
    """Raised when student code imports a blocked library while a Guard watches."""

    from_scratch = True


def _library(name):
    """The blocked library a module name belongs to, else ''."""
    top = str(name).split(".")[0]
    return top if top in BLOCKED else ""


class _Finder:
    """A meta-path finder that refuses the blocked libraries while its guard watches."""

    def __init__(self, guard):
        self.guard = guard

    def find_spec(self, name, path=None, target=None):
        # A library the student file imported at its top (allowed while unused) may load
        # its own submodules lazily: the modes judge what it computes.
        library = _library(name)
        if self.guard.active and library and library not in sys.modules and \
                self._installed(library) and not self._submitted(library):
            who = self.guard.student_function()
            raise ScratchImportError(
                f"{who or 'your code'} imports {name}, which the grader refuses here: "
                "compute this question with numpy only", name=name)
        return None

    @staticmethod
    def _installed(library):
        """Whether the library can be found (one that cannot stays a plain "No module
        named" error: torch probes for tensorflow with importlib.util.find_spec)."""
        try:
            return importlib.machinery.PathFinder.find_spec(library) is not None
        except Exception:  # noqa: BLE001 - a broken path entry
            return True

    def _submitted(self, library):
        """Whether the name is a module of the submission (a student's own autograd.py)."""
        try:
            spec = importlib.machinery.PathFinder.find_spec(library)
        except Exception:  # noqa: BLE001
            return False
        origin = os.path.realpath(str(getattr(spec, "origin", "") or ""))
        return bool(spec) and origin.startswith(self.guard.submission)

    def invalidate_caches(self):
        pass


def _torch_name(func):
    """'torch.autograd.grad', 'torch.exp', 'Tensor.backward' for a function torch hands
    a TorchFunctionMode."""
    qual = str(getattr(func, "__qualname__", "") or getattr(func, "__name__", "") or func)
    module = str(getattr(func, "__module__", "") or "")
    head, _, tail = qual.rpartition(".")
    if head in ("_VariableFunctionsClass", "_TensorBase", "TensorBase", "Tensor"):
        return ("torch." + tail) if head == "_VariableFunctionsClass" else ("Tensor." + tail)
    if module.startswith("torch") and not qual.startswith("torch"):
        return f"{module}.{qual}"
    return qual if qual.startswith("torch") else "torch " + qual


def _modes(guard, torch):
    """A (TorchFunctionMode, TorchDispatchMode) pair that reports every call to guard
    while it watches (and lets calls through while it does not: a thread's modes stay)."""
    from torch.overrides import TorchFunctionMode
    from torch.utils._python_dispatch import TorchDispatchMode

    class FunctionMode(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            if not guard.active:
                return func(*args, **(kwargs or {}))
            raise guard.violation("called " + _torch_name(func))

    class DispatchMode(TorchDispatchMode):
        @classmethod
        def _should_skip_dynamo(cls):  # no torch._dynamo import (5 s) on the first call
            return False

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if not guard.active:
                return func(*args, **(kwargs or {}))
            name = str(func)
            raise guard.violation(
                "made a torch tensor of an array (torch.from_numpy, torch.Tensor(...))"
                if "lift_fresh" in name else f"computed with torch (the operation {name})")

    return FunctionMode(), DispatchMode()


class Guard:
    """Watches student code for computations by a blocked library; see the module
    docstring. submission: the real path of the submission's copy (its frames name the
    student function in messages)."""

    def __init__(self, submission):
        self.submission = os.path.realpath(submission) + os.sep
        self.active = False
        self.seen = ""  # the first violation, as a message
        self.where = ""  # its 'file.py:LINE'
        self._finder = _Finder(self)
        self._modes = None  # (function mode, dispatch mode) while pushed
        self._switches = []  # (module, name, original) replaced while watching
        self._hooked = False
        self._paths = {}

    # -- what student code did --------------------------------------------------------
    def student_frame(self):
        """(function name, 'file.py:LINE') of the student code running now: the line of
        the innermost student frame, the name of the innermost named one (a lambda or a
        comprehension is named by the function it is in; "" when none is)."""
        frame, name, where = sys._getframe(1), "", ""
        while frame is not None and not name:
            path = frame.f_code.co_filename
            real = self._paths.get(path)
            if real is None:
                real = self._paths[path] = os.path.realpath(path)
            if real.startswith(self.submission):
                where = where or f"{real[len(self.submission):]}:{frame.f_lineno}"
                if not frame.f_code.co_name.startswith("<"):
                    name = frame.f_code.co_name
            frame = frame.f_back
        return name, where

    def student_function(self):
        name, _ = self.student_frame()
        return f"{name}()" if name else ""

    def _record(self, what):
        """Records a violation seen after the fact (no student frame to name)."""
        if not self.seen:
            self.seen = "your code " + what

    def violation(self, what):
        """Records one violation (the first is kept) and returns the error to raise in
        student code."""
        name, where = self.student_frame()
        who = f"{name}()" if name else ""
        message = f"{who} {what}" if who else (
            f"your code {what}" if where else "your code returned a torch tensor")
        if not self.seen:
            self.seen, self.where = message, where
        return ScratchError(message + ": compute this question with numpy only")

    # -- watching -----------------------------------------------------------------------
    def _push_modes(self):
        torch = sys.modules.get("torch")
        if torch is None or self._modes is not None or not hasattr(torch, "overrides"):
            return
        self._modes = _modes(self, torch)
        for mode in self._modes:
            mode.__enter__()
        for module_name, name in SWITCHES:
            module = sys.modules.get(module_name)
            original = getattr(module, name, None)
            if original is not None:
                self._switches.append((module, name, original))
                setattr(module, name, self._switch(f"{module_name}.{name}"))

    def _switch(self, name):
        guard = self

        def switch(*args, **kwargs):
            raise guard.violation(f"switched off the grader's check of torch calls ({name})")

        return switch

    def _pop_modes(self):
        """Pops the modes pushed by _push_modes; records a violation when student code
        took them off torch's stacks."""
        if self._modes is None:
            return
        function_mode, dispatch_mode = self._modes
        self._modes = None
        for module, name, original in reversed(self._switches):
            setattr(module, name, original)
        self._switches = []
        torch = sys.modules.get("torch")
        try:
            from torch.utils._python_dispatch import _get_current_dispatch_mode_stack
            dispatch = _get_current_dispatch_mode_stack()
            functions = [torch._C._get_function_stack_at(i)
                         for i in range(torch._C._len_torch_function_stack())]
        except Exception:  # noqa: BLE001 - torch internals moved, or student code broke them
            dispatch, functions = [], []
        if dispatch_mode not in dispatch or function_mode not in functions:
            self._record("switched off the grader's check of torch calls")
        for mode, stack in ((dispatch_mode, dispatch), (function_mode, functions)):
            if mode in stack:
                try:  # modes pushed above ours by student code go too
                    for _ in range(len(stack) - stack.index(mode)):
                        mode.__exit__(None, None, None)
                except Exception:  # noqa: BLE001
                    pass

    def _wrap_thread_start(self, original):
        """start_new_thread that gives every thread the modes (torch's are per thread),
        also one started while the guard does not watch (at import), as long as torch
        is imported by then; they act while the guard watches."""
        guard = self

        def start_new_thread(function, args, kwargs=None):
            if "torch" not in sys.modules:
                return original(function, args, *(() if kwargs is None else (kwargs,)))

            def guarded(*a, **k):
                modes = _modes(guard, sys.modules["torch"])
                for mode in modes:
                    mode.__enter__()
                return function(*a, **k)

            return original(guarded, args, *(() if kwargs is None else (kwargs,)))

        return start_new_thread

    def start(self):
        """Starts watching (again after suspended())."""
        if not self._hooked:
            # how new threads start: _thread's function and threading's copy of it
            self._thread_start = [(module, name, getattr(module, name)) for module, name in (
                (_thread, "start_new_thread"), (threading, "_start_new_thread"))
                if callable(getattr(module, name, None))]
            for module, name, original in self._thread_start:  # for good
                setattr(module, name, self._wrap_thread_start(original))
            self._hooked = True
        if self._finder not in sys.meta_path:
            sys.meta_path.insert(0, self._finder)
        self.active = True
        self._push_modes()

    def stop(self):
        """Stops watching; records a violation when student code removed the finder."""
        if not self.active:
            return
        self.active = False
        self._pop_modes()
        if not isinstance(sys.meta_path, list):
            sys.meta_path = list(sys.meta_path)
        if self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)
        else:
            self._record("removed the grader's import check from sys.meta_path")

    def suspended(self):
        """A context in which the guard does not watch (the student file's import)."""
        return self._switched(False)

    def watching(self, enabled):
        """A context that watches while it runs when enabled (else does nothing)."""
        return self._switched(True) if enabled else contextlib.nullcontext(self)

    @contextlib.contextmanager
    def _switched(self, on):
        """Watching (on) or not while the context runs; as it was afterwards."""
        was = self.active
        if was != on:
            self.start() if on else self.stop()
        try:
            yield self
        finally:
            if was != on:
                self.stop() if on else self.start()

    @staticmethod
    def refused(exc):
        """Whether an exception is the guard's own (a refused import or torch call) that
        escaped student code."""
        return isinstance(exc, (ScratchError, ScratchImportError))

    def refusal(self, exc, where):
        """The failure record of a refusal that escaped student code (refused())."""
        text = str(exc)
        return {"kind": KIND, "message": "not from scratch: " + text[:400],
                "where": self.where or where, "detail": DETAIL}

    def verdict(self):
        """The failure record of the first violation, or None; clears it."""
        if not self.seen:
            return None
        record = {"kind": KIND, "message": f"not from scratch: {self.seen}",
                  "where": self.where, "detail": DETAIL}
        self.seen = self.where = ""
        return record
