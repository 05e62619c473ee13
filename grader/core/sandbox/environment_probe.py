"""Probe run in the sandbox (grader/core/sandbox/runner.py, run_probe) that reports the torch and
CUDA the sandboxed student code would see: the grader's own process never imports torch.

It imports only the standard library itself, and torch inside the probe function; every
value it records is a JSON scalar (values of ProbeRun): torch, cuda (torch.version.cuda),
cuda_available, gpu (the name of device 0), gpu_count, cudnn, and, when asked
(params["train"]), train_seconds and train_device of a tiny training run.
"""
import time


def environment(ctx):
    """Records the torch and CUDA versions and the GPU visible to the sandbox."""
    try:
        import torch
    except BaseException as exc:  # noqa: BLE001 - not installed, or too little memory
        ctx.put("error", f"torch could not be imported: {type(exc).__name__}: {exc}"[:300])
        return
    ctx.put("torch", str(torch.__version__))
    ctx.put("cuda", str(torch.version.cuda or ""))
    try:
        available = bool(torch.cuda.is_available())
    except BaseException as exc:  # noqa: BLE001 - a broken driver
        available = False
        ctx.put("cuda_error", f"{type(exc).__name__}: {exc}"[:300])
    ctx.put("cuda_available", available)
    ctx.put("gpu_count", int(torch.cuda.device_count()) if available else 0)
    ctx.put("gpu", str(torch.cuda.get_device_name(0)) if available else "")
    try:
        cudnn = torch.backends.cudnn.version() if available else None
    except BaseException:  # noqa: BLE001
        cudnn = None
    ctx.put("cudnn", str(cudnn or ""))
    if ctx.params.get("train"):
        device = "cuda" if available else "cpu"
        start = time.perf_counter()
        torch.manual_seed(0)
        model = torch.nn.Linear(64, 10).to(device)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        x = torch.randn(256, 64, device=device)
        y = torch.randint(0, 10, (256,), device=device)
        for _ in range(50):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        ctx.put("train_loss", float(loss.item()))
        ctx.put("train_seconds", time.perf_counter() - start)
        ctx.put("train_device", device)
