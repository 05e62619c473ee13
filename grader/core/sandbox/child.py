"""Entry point of a sandboxed child process: runs one probe next to student code.

Started by core/sandbox/runner.py as `python -I sandbox_child.py REQUEST.json`, by path, so the
grader package is not importable from here. It imports only the standard library and numpy;
a probe module is loaded by file path and receives a ProbeContext. Everything it sends back
is plain data: arrays in values.npz (read with allow_pickle=False) and scalars, strings and
failure descriptions in meta.json, written last so a half-written result is never read.
"""
import importlib.util
import json
import os
import sys
import threading
import time
import traceback
from contextlib import contextmanager

# Captured before any student code is imported, so a submission that patches the time
# module cannot fake the timings the probes take.
perf_counter = time.perf_counter

_MAX_TEXT = 400
_SPARE_FDS = 8  # held while student code runs, closed before results are written
# Libraries the grader installs for student code. One that a submission imports is
# imported first, before any student code runs: when it fails (a memory limit too small for
# torch, a broken install), that is the grader's fault, reported as such ("grader").
PROVIDED = ("numpy", "scipy", "matplotlib", "torch", "torchvision", "past", "future")
# keys under which a checkpoint file may wrap its state dict ({"state_dict": ...})
STATE_KEYS = ("state_dict", "model_state_dict", "model", "net")
IMPORTING = "importing.txt"  # in the output folder: the module being imported, if any
RUNNING = "running.txt"  # in the output folder: "module:qualname" of the student function
                         # the main thread is in, sampled while the probe runs

# Landlock (linux/landlock.h): the filesystem rights a confined child keeps, per kind of
# rule the grader lists in the request ("confine"): ("rx", path) read and execute,
# ("list", path) list folders only, ("ro", path) read, ("dev", path) a device node
# read, written and ioctl()ed, ("rw", path) everything.
_LL_EXECUTE, _LL_WRITE, _LL_READ_FILE, _LL_READ_DIR = 1, 2, 4, 8
_LL_TRUNCATE, _LL_IOCTL_DEV = 1 << 14, 1 << 15
_LL_FILE_RIGHTS = _LL_EXECUTE | _LL_WRITE | _LL_READ_FILE | _LL_TRUNCATE | _LL_IOCTL_DEV
_LL_KINDS = {"rx": _LL_EXECUTE | _LL_READ_FILE | _LL_READ_DIR, "list": _LL_READ_DIR,
             "ro": _LL_READ_FILE, "dev": _LL_READ_FILE | _LL_WRITE | _LL_TRUNCATE | _LL_IOCTL_DEV,
             "rw": (1 << 16) - 1}
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446  # x86_64 and arm64


def landlock_abi():
    """The kernel's Landlock ABI version, 0 where Landlock is missing or disabled."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    version = libc.syscall(ctypes.c_long(_SYS_CREATE_RULESET), None, ctypes.c_long(0),
                           ctypes.c_long(1))  # LANDLOCK_CREATE_RULESET_VERSION
    return max(0, int(version))


def confine(rules):
    """Restricts this process and everything it starts, for good, to the filesystem rights
    of `rules` (a list of [kind, path], see _LL_KINDS; a missing path is left out), and
    keeps it from signalling processes or reaching abstract Unix sockets outside its own
    domain (ABI 6). Raises OSError when Landlock refuses: the caller must not run student
    code then."""
    import ctypes
    import stat
    import struct
    abi = landlock_abi()
    if abi < 1:
        raise OSError("Landlock is not available")
    handled = (1 << 13) - 1 | (1 << 13 if abi >= 2 else 0)  # ABI 1 rights, REFER (ABI 2)
    handled |= (_LL_TRUNCATE if abi >= 3 else 0) | (_LL_IOCTL_DEV if abi >= 5 else 0)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8  # fs, net (ABI 4), scoped (ABI 6)
    attr = ctypes.create_string_buffer(struct.pack("=QQQ", handled, 0, 3 if abi >= 6 else 0)[:size])
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    ruleset = libc.syscall(ctypes.c_long(_SYS_CREATE_RULESET), attr, ctypes.c_long(size),
                           ctypes.c_long(0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for kind, path in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                access = _LL_KINDS[kind] & handled
                if not stat.S_ISDIR(os.fstat(fd).st_mode):
                    access &= _LL_FILE_RIGHTS
                if not access:
                    continue
                rule = ctypes.create_string_buffer(struct.pack("=Qi", access, fd))
                if libc.syscall(ctypes.c_long(_SYS_ADD_RULE), ctypes.c_long(ruleset),
                                ctypes.c_long(1), rule, ctypes.c_long(0)) < 0:
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule failed on {path}")
            finally:
                os.close(fd)
        libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS (the grader set it already)
        if libc.syscall(ctypes.c_long(_SYS_RESTRICT_SELF), ctypes.c_long(ruleset),
                        ctypes.c_long(0)) < 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)


def _safe_str(obj, limit=_MAX_TEXT):
    """str(obj), or a placeholder when its __str__ raises; capped at `limit` characters."""
    try:
        text = str(obj)
    except BaseException:  # noqa: BLE001 - a hostile __str__ may raise anything
        text = "<unprintable>"
    return text if len(text) <= limit else text[:limit] + "..."



# Exception classes (by name, anywhere in an exception's class hierarchy or its chain of
# causes) that say code tried to reach the network: urllib's, socket's, http.client's,
# requests' and the builtin connection errors.
_NETWORK_ERRORS = frozenset({"URLError", "HTTPError", "ContentTooShortError", "gaierror",
                             "herror", "timeout", "ConnectionError", "ConnectionRefusedError",
                             "ConnectionResetError", "ConnectionAbortedError", "SSLError",
                             "RemoteDisconnected", "IncompleteRead", "HTTPException",
                             "RequestException", "ReadTimeout", "ConnectTimeout"})


def _reaches_network(exc, depth=0):
    """True when exc, or an exception it was raised from or during, is a network error."""
    if exc is None or depth > 5:
        return False
    if any(cls.__name__ in _NETWORK_ERRORS for cls in type(exc).__mro__):
        return True
    return (_reaches_network(exc.__cause__, depth + 1)
            or _reaches_network(exc.__context__, depth + 1))


class StudentFailure(Exception):
    """Raised by a probe to stop one case with a message for the student."""

    def __init__(self, kind, message, where="", detail=""):
        super().__init__(message)
        self.record = {"kind": kind, "message": message, "where": where, "detail": detail}


def _imported_modules(path):
    """Dotted names of every module a Python file imports (absolute imports only), read
    with ast, in order; [] when the file does not parse (the import reports that)."""
    import ast
    try:
        with open(path, "rb") as fh:
            tree = ast.parse(fh.read())
    except (SyntaxError, ValueError, OSError, RecursionError, MemoryError):
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return list(dict.fromkeys(names))


def import_provided(name):
    """Imports a module of a grader-provided library (PROVIDED) and returns it, or None
    for a submodule that does not exist (the student's own import reports that); raises
    StudentFailure("grader", ...) naming the library and the cause when the library
    itself fails to import (a grader fault, never the student's)."""
    library = name.split(".")[0]
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] not in PROVIDED:
            raise StudentFailure(
                "grader", f"{library}, which the grader provides, could not import its "
                f"dependency {exc.name!r} in the sandbox") from None
        if exc.name in PROVIDED:
            raise StudentFailure(
                "grader", f"{exc.name}, which the grader provides, is not installed for the "
                "Python that runs student code",
                detail="This is not a fault of your code.") from None
        if exc.name == name or name.startswith(exc.name + "."):
            return None
        raise StudentFailure("grader", f"{name} could not be imported in the sandbox "
                             f"({_safe_str(exc)})") from None
    except BaseException as exc:  # noqa: BLE001 - OSError, MemoryError, RuntimeError...
        raise StudentFailure(
            "grader", f"the grader-provided library {library} failed to import in the "
            f"sandbox ({type(exc).__name__}: {_safe_str(exc, 200)})",
            detail="This is not a fault of your code.") from None


def preimport_provided(path):
    """Imports the grader-provided libraries (PROVIDED) a student file imports, before any
    student code runs (import_provided: a failure there is the grader's)."""
    for name in _imported_modules(path):
        if name.split(".")[0] in PROVIDED:
            import_provided(name)


class ProbeContext:
    """What a probe function gets: the submission, its inputs and a place for results."""

    def __init__(self, request, inputs):
        self.submission = os.path.realpath(request["submission"])
        self.params = request.get("params", {})
        self.inputs = inputs  # name -> np.ndarray (read-only copies)
        self.data_files = request.get("data_files", {})
        # module -> {name: line}: names only top-level lines the grader skipped assign
        self.skipped_names = request.get("skipped_names", {})
        # module -> why it is not imported: it hung at import in an earlier call
        self.hung_imports = request.get("hung_imports", {})
        # "module:qualname" -> why it is not run: it outlasted a call's budget before
        self.hung_functions = request.get("hung_functions", {})
        self.output_dir = request["output"]
        self.values = {}  # key -> array or JSON-able scalar
        self.case_failures = {}  # case name -> failure record
        self.perf_counter = perf_counter
        # the from-scratch rule's guard (scratch_guard.py) when the question asks for it
        self.scratch = _scratch_guard(self.submission) if self.params.get("from_scratch") \
            else None

    # -- student code -------------------------------------------------------------------
    def import_student(self, module_name):
        """Imports a module of the submission; raises StudentFailure naming the problem.
        The from-scratch guard does not watch the import (an unused `import torch` at the
        top of a file is allowed)."""
        if self.scratch is None:
            return self._import_student(module_name)
        with self.scratch.suspended():
            return self._import_student(module_name)

    def _import_student(self, module_name):
        # Only now is the submission importable: a file of it named like a module the
        # grader's own code imports (__future__.py, ...) cannot replace that module in a
        # probe that never imports student code (the reference timing of 1c).
        if self.submission not in sys.path:
            sys.path.insert(0, self.submission)
        path = os.path.join(self.submission, module_name + ".py")
        if not os.path.isfile(path):
            present = sorted(f for f in os.listdir(self.submission) if f.endswith(".py"))
            raise StudentFailure(
                "missing", f"{module_name}.py not found in the submission",
                detail="Python files submitted: " + (", ".join(present) or "none"))
        if module_name in self.hung_imports:
            raise StudentFailure("hung_import", self.hung_imports[module_name],
                                 module_name + ".py")
        preimport_provided(path)
        # While the import runs, IMPORTING names the module: a call killed meanwhile was
        # stuck in the module's top-level code, and the grader does not import it again.
        marker = os.path.join(self.output_dir, IMPORTING)
        if module_name not in sys.modules:
            with open(marker, "w") as fh:
                fh.write(module_name)
        try:
            module = importlib.import_module(module_name)
            self._stub_hung(module_name, module)
            return module
        except SyntaxError as exc:
            where = f"{os.path.basename(exc.filename or path)}:{exc.lineno}"
            raise StudentFailure("syntax", f"SyntaxError in {module_name}.py: {exc.msg}",
                                 where, _safe_str(exc.text).strip()) from None
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.split(".")[0] != module_name:
                raise StudentFailure(
                    "import", f"{module_name}.py imports {exc.name!r}, which the grader does "
                    "not provide", self.where(exc),
                    "Remove the import or use a package from the handout's list.") from None
            raise self.failure_of(exc, "while importing " + module_name) from None
        except BaseException as exc:  # noqa: BLE001 - import-time crash of student code
            if _reaches_network(exc):  # a download at the top level, with no network here
                raise StudentFailure(
                    "import_network", f"{_safe_str(type(exc).__name__, 80)}: {_safe_str(exc)} "
                    f"(while importing {module_name}): the top level of {module_name}.py tried "
                    "to reach the network, which graded code does not have", self.where(exc)
                ) from None
            raise self.failure_of(exc, "while importing " + module_name) from None
        finally:
            if os.path.exists(marker):
                os.remove(marker)

    def _stub_hung(self, module_name, module):
        """Replaces each function of the module that outlasted a budget earlier in this
        grading (hung_functions) by one that fails at once, saying so."""
        for name, why in self.hung_functions.items():
            owner, _, qualname = str(name).partition(":")
            if owner != module_name or not qualname:
                continue
            *outer, last = qualname.split(".")
            holder = module
            try:
                for part in outer:
                    holder = getattr(holder, part)
                getattr(holder, last)
            except AttributeError:
                continue

            def stub(*args, _why=str(why), _where=f"{module_name}.py", **kwargs):
                raise StudentFailure("hung_function", _why, _where)

            try:
                setattr(holder, last, stub)
            except (AttributeError, TypeError):
                continue

    def call(self, func, *args, **kwargs):
        """Calls student code; turns whatever it raises into a StudentFailure."""
        try:
            return func(*args, **kwargs)
        except StudentFailure:
            raise
        except BaseException as exc:  # noqa: BLE001 - SystemExit included
            raise self.failure_of(exc) from None

    def where(self, exc):
        """'file.py:LINE' of the innermost frame of the traceback that is student code."""
        found = ""
        for frame, lineno in traceback.walk_tb(exc.__traceback__):
            name = os.path.realpath(frame.f_code.co_filename)
            if name.startswith(self.submission + os.sep):
                found = f"{os.path.relpath(name, self.submission)}:{lineno}"
        return found

    def failure_of(self, exc, during=""):
        """A StudentFailure describing an exception raised by student code."""
        where = self.where(exc)
        suffix = f" ({during})" if during else ""
        if self.scratch is not None and self.scratch.refused(exc):  # torch & co. refused
            return StudentFailure(**self.scratch.refusal(exc, where))
        if isinstance(exc, SystemExit):
            return StudentFailure("exit", f"your code called sys.exit({_safe_str(exc.code)})"
                                  f"{suffix}; graded functions must return, not exit", where)
        if isinstance(exc, NotImplementedError):
            return StudentFailure("todo", "not implemented yet (NotImplementedError)" + suffix,
                                  where)
        if isinstance(exc, MemoryError):
            return StudentFailure("memory", "ran out of memory" + suffix, where)
        skipped = self._skipped_line(exc)
        if skipped:
            return StudentFailure(
                "skipped", f"NameError: name {exc.name!r} is not defined{suffix}: {skipped}, "
                "top-level code the grader does not run", where,
                "Pass it as an argument, or define it inside your function or class.")
        name = _safe_str(type(exc).__name__, 80)
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if os.path.realpath(f.filename).startswith(self.submission + os.sep)]
        for i, frame in enumerate(frames):  # file names as the student knows them
            relative = os.path.relpath(os.path.realpath(frame.filename), self.submission)
            frames[i] = traceback.FrameSummary(relative, frame.lineno, frame.name,
                                               line=frame.line)
        detail = "".join(traceback.format_list(frames[-6:]))
        return StudentFailure("exception", f"{name}: {_safe_str(exc)}{suffix}", where, detail)

    def torch(self):
        """Imports torch for a probe, seeded from the request's `seed` and with
        deterministic algorithms where torch allows them; returns (torch, device name).
        The device is the grader's choice (`device` in the request: "cpu" or "cuda"). A
        torch that cannot be imported here is the grader's fault (kind "grader")."""
        torch = import_provided("torch")
        seed = int(self.params.get("seed", 0))
        torch.manual_seed(seed)
        try:
            torch.use_deterministic_algorithms(True, warn_only=True)
        except (AttributeError, RuntimeError):
            pass
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
        return torch, str(self.params.get("device", "cpu"))

    def submitted_state_dict(self, save: str):
        """The state dict a student submitted as a checkpoint: its bytes are
        inputs["checkpoint"] and its file name params["checkpoint"] (the file itself never
        enters a sandbox). Loaded with torch.load(weights_only=True), which refuses any
        pickled object other than tensors and plain containers; a dict wrapping the state
        dict under a usual key is unwrapped. A failure (kind "checkpoint") says what the
        file holds; `save` is what the student should have saved ("model.state_dict()")."""
        import io

        torch = import_provided("torch")
        name = self.params["checkpoint"]
        blob = self.inputs["checkpoint"].astype("uint8", copy=False).tobytes()
        try:
            state = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - corrupt, or a pickle weights_only refuses
            text = str(exc).strip().splitlines()
            self.fail("checkpoint", f"{name} could not be loaded with torch.load(weights_only="
                      f"True): {type(exc).__name__}: {text[0][:300] if text else ''}")
        if isinstance(state, dict):
            for key in STATE_KEYS:
                if isinstance(state.get(key), dict):
                    state = state[key]
                    break
        if not isinstance(state, dict) or not all(hasattr(v, "shape") for v in state.values()):
            self.fail("checkpoint", f"{name} holds a {type(state).__name__}, not a state dict "
                      f"(names -> tensors): save {save}")
        return state

    def load_submitted_state(self, model, state, fits: str):
        """model.load_state_dict(state), or a failure (kind "checkpoint") saying the file
        does not fit `fits` ("your ConvNet()"), with torch's names and shapes."""
        try:
            model.load_state_dict(state)
        except Exception as exc:  # noqa: BLE001 - names or shapes that do not match
            self.fail("checkpoint", f"{self.params['checkpoint']} does not fit {fits}: "
                      + " ".join(str(exc).split())[:600])
        return model

    def put_state(self, model, prefix, owner="model"):
        """Records model.state_dict() as arrays, one per tensor: PREFIX + its name ->
        float32 (floating tensors) or int64 (the rest), on the CPU; `owner` names the
        model in the message when state_dict() returns no dict."""
        torch = import_provided("torch")
        state = self.call(model.state_dict)
        if not isinstance(state, dict):
            self.fail("api", f"{owner}.state_dict() should be a dict; got "
                      f"{type(state).__name__}")
        for name, value in state.items():
            if isinstance(value, torch.Tensor):
                dtype = "float32" if value.is_floating_point() else "int64"
                self.put(prefix + str(name),
                         self.array(value, f"the state dict's {name}", dtype=dtype))

    def load_state(self, model, prefix, what, detail):
        """Loads the arrays inputs[PREFIX + name] into model (load_state_dict, strict), or
        fails (kind "api"): `what` ("the weights train() left do not fit a new ConvNet()")
        then torch's names and shapes; `detail` says what to do."""
        import numpy as np

        torch = import_provided("torch")
        state = {k[len(prefix):]: torch.from_numpy(np.array(v)) for k, v in self.inputs.items()
                 if k.startswith(prefix)}
        try:
            model.load_state_dict(state)
        except Exception as exc:  # noqa: BLE001 - names or shapes that do not match
            self.fail("api", f"{what}: " + " ".join(str(exc).split())[:600], detail=detail)
        return model

    def _skipped_line(self, exc):
        """'ex2_pytorch.py assigns it at line 40' when a NameError names a variable only
        skipped top-level lines assign; '' otherwise."""
        name = getattr(exc, "name", None) if isinstance(exc, NameError) else None
        for module, names in self.skipped_names.items():
            if isinstance(names, dict) and name in names:
                return f"{module}.py assigns it at line {names[name]}"
        return ""

    def fail(self, kind, message, where="", detail=""):
        """Stops the current case (or the whole probe) with a message for the student."""
        raise StudentFailure(kind, message, where, detail)

    # -- results ------------------------------------------------------------------------
    @contextmanager
    def case(self, name):
        """Runs one case; a StudentFailure inside is recorded and the next case goes on."""
        try:
            yield
        except StudentFailure as failure:
            self.case_failures[name] = failure.record

    def put(self, key, value):
        """Records one result: a numpy array, a number, a string or a list of those."""
        self.values[key] = value

    def array(self, obj, what, dtype="float64"):
        """Converts what student code returned (numpy arrays, numbers, lists, torch
        tensors and parameters, on any device) into a numpy array, or fails clearly."""
        import numpy as np
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(obj, torch.Tensor):
            try:
                obj = torch.Tensor.numpy(torch.Tensor.cpu(torch.Tensor.detach(obj)).double())
            except BaseException as exc:  # noqa: BLE001 - a subclass with hostile methods
                raise StudentFailure("type", f"{what}: the tensor could not be read "
                                     f"({_safe_str(exc, 120)})") from None
        try:
            arr = np.array(obj, dtype=dtype, copy=True)
        except BaseException as exc:  # noqa: BLE001 - objects pretending to be arrays
            raise StudentFailure(
                "type", f"{what} should be a numpy array of numbers; got "
                f"{_safe_str(type(obj).__name__, 80)} ({_safe_str(exc, 120)})") from None
        if arr.dtype == object:
            raise StudentFailure("type", f"{what} is not numeric")
        return arr


# Probe-side modules the sandbox copies beside this file (ctl/): a probe, loaded alone by
# path, imports one as grader_kit_<name> once _preload_kits() has run.
KITS = ("output_path", "layer_calls", "training")


def _beside(name):
    """The path of a file copied beside the request (the call's control folder), where a
    child forked from the template finds it as a fresh one does beside this file."""
    return os.path.join(os.path.dirname(os.path.abspath(sys.argv[1])), name)


def _preload_kits():
    """Loads each kit copied beside this file as module grader_kit_<name>."""
    for name in KITS:
        path = _beside(name + ".py")
        if os.path.isfile(path):
            spec = importlib.util.spec_from_file_location("grader_kit_" + name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)


CALLS = "__calls__"  # the function name of a request that serves several probe calls
SEPARATOR = "::"  # between a call's prefix and its own keys


def _scratch_guard(submission):
    """A Guard of scratch_guard.py (copied beside this file, loaded by path, standard
    library only) for the submission's copy at `submission`."""
    path = _beside("scratch_guard.py")
    spec = importlib.util.spec_from_file_location("grader_scratch_guard", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Guard(submission)


def _run(probe, function, ctx):
    """Runs one probe function; returns its failure record, or None. Under the
    from-scratch guard, a computation it saw fails the whole call."""
    if ctx.scratch is None:
        return _run_probe(probe, function, ctx)
    with ctx.scratch.watching(True):
        failure = _run_probe(probe, function, ctx)
    return ctx.scratch.verdict() or failure


def _run_probe(probe, function, ctx):
    try:
        getattr(probe, function)(ctx)
    except StudentFailure as exc:
        return exc.record
    except BaseException as exc:  # noqa: BLE001 - student code escaping ctx.call
        return ctx.failure_of(exc).record
    return None


def _run_calls(probe, ctx, calls):
    """One child serving several probe calls (e.g. a question's, so torch is imported
    once): each call sees the request's params updated with its own, and the inputs under
    its prefix; what it records is kept under that prefix, and a call that fails stops
    only itself (its failure is the case failure named by its bare prefix)."""
    base_params, inputs = ctx.params, ctx.inputs
    values, cases = {}, {}
    for call in calls:
        prefix = str(call["prefix"]) + SEPARATOR
        ctx.params = {**base_params, **call.get("params", {})}
        ctx.inputs = {k[len(prefix):]: v for k, v in inputs.items() if k.startswith(prefix)}
        ctx.values, ctx.case_failures = {}, {}
        failure = _run(probe, call["function"], ctx)
        values.update({prefix + str(k): v for k, v in dict(ctx.values).items()})
        cases.update({prefix + str(k): v for k, v in dict(ctx.case_failures).items()})
        if failure is not None:
            cases[prefix] = failure
    ctx.values, ctx.case_failures = values, cases


def _sample_running(ctx, interval=0.1):
    """Starts a daemon thread that writes RUNNING: the innermost student function the
    main thread is in ("module:qualname"), so that a call the grader stops for time names
    the function that did not finish."""
    main_id = threading.main_thread().ident
    path = os.path.join(ctx.output_dir, RUNNING)
    prefix = ctx.submission + os.sep

    def innermost():
        frame = sys._current_frames().get(main_id)
        while frame is not None:
            filename = os.path.realpath(frame.f_code.co_filename)
            if filename.startswith(prefix):
                module = os.path.splitext(os.path.relpath(filename, ctx.submission))[0]
                qualname = getattr(frame.f_code, "co_qualname", frame.f_code.co_name)
                return f"{module.replace(os.sep, '.')}:{qualname}"
            frame = frame.f_back
        return ""

    def sample():
        last = None
        while True:
            time.sleep(interval)
            try:
                now = innermost()
                if now != last:
                    with open(path + ".tmp", "w") as fh:
                        fh.write(now)
                    os.replace(path + ".tmp", path)
                    last = now
            except Exception:  # noqa: BLE001 - sampling is best effort
                pass

    threading.Thread(target=sample, name="grader-running", daemon=True).start()


def _write_failure(out_dir, failure):
    """meta.json holding only a failure of the whole call (no values)."""
    import zipfile
    zipfile.ZipFile(os.path.join(out_dir, "values.npz"), "w").close()  # no arrays
    tmp = os.path.join(out_dir, "meta.json.tmp")
    with open(tmp, "w") as fh:
        json.dump({"complete": True, "scalars": {}, "failure": failure}, fh)
    os.replace(tmp, os.path.join(out_dir, "meta.json"))


def check(rules_path):
    """`sandbox_child.py --check RULES.json`: the grader's test of a sandbox setup. Confines
    itself as a call would (when rules are given), then imports numpy; prints what the
    grader needs to know as JSON."""
    with open(rules_path) as fh:
        rules = json.load(fh)
    if rules is not None:
        confine(rules)
    import numpy  # noqa: F401 - the child must be able to import it
    try:
        net = os.readlink("/proc/self/ns/net")
    except OSError:
        net = ""
    print(json.dumps({"uid": os.getuid(), "net": net}))
    return 0


def _write_results(out_dir, ctx, failure):
    import numpy as np
    arrays, scalars = {}, {}
    for key, value in ctx.values.items():
        if isinstance(value, np.ndarray):
            arrays[key] = value
        else:
            scalars[key] = value
    np.savez(os.path.join(out_dir, "values.npz"), **arrays)
    meta = {"complete": True, "scalars": scalars, "failure": failure,
            "case_failures": ctx.case_failures}
    tmp = os.path.join(out_dir, "meta.json.tmp")
    with open(tmp, "w") as fh:
        json.dump(meta, fh, default=_safe_str)
    os.replace(tmp, os.path.join(out_dir, "meta.json"))


def main(request_path):
    """Runs the probe a request names and writes its results; returns the exit code."""
    with open(request_path) as fh:
        request = json.load(fh)
    out_dir = request["output"]
    if request.get("confine") is not None:
        # Before any probe or student code: the grader's rules, or no run at all.
        try:
            confine(request["confine"])
        except OSError as exc:
            _write_failure(out_dir, {"kind": "grader", "message": "the sandbox could not "
                                     f"confine the filesystem ({exc})", "where": "",
                                     "detail": "This is not a fault of your code."})
            return 0
    import numpy as np
    with np.load(request["inputs"], allow_pickle=False) as npz:
        inputs = {k: npz[k] for k in npz.files}
    ctx = ProbeContext(request, inputs)
    _sample_running(ctx)
    # A few descriptors kept free: student code that opens files up to the limit and
    # keeps them open must not keep its results from being written.
    spare = [os.open(os.devnull, os.O_RDONLY) for _ in range(_SPARE_FDS)]
    _preload_kits()
    spec = importlib.util.spec_from_file_location("grader_probe", request["probe"])
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    failure = None
    if request["function"] == CALLS:
        try:
            _run_calls(probe, ctx, list(ctx.params.get("calls", [])))
        except BaseException as exc:  # noqa: BLE001 - student code escaping ctx.call
            failure = ctx.failure_of(exc).record
    else:
        failure = _run(probe, request["function"], ctx)
    # Student code may have replaced sys.stdout or closed files; results go to out_dir.
    for fd in spare:
        try:
            os.close(fd)
        except OSError:  # closed by student code already
            pass
    _write_results(out_dir, ctx, failure)
    return 0


def template(fd):
    """`sandbox_child.py --template FD`: the template process children are forked from
    (template.py, copied beside this file, serves on the socket FD)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "template.py")
    spec = importlib.util.spec_from_file_location("grader_template", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.serve(fd, main)


if __name__ == "__main__":
    mode = {"--check": check, "--template": lambda fd: template(int(fd))}.get(sys.argv[1])
    code = mode(sys.argv[2]) if mode else main(sys.argv[1])
    sys.stdout.flush()
    os._exit(code)  # skip atexit hooks a submission may have registered
