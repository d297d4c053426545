"""Shared by the benchmark scripts: machine description and float64 setup."""

import os
import platform

import jax

jax.config.update("jax_enable_x64", True)


def machine() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    device = jax.devices()[0]
    return (f"{platform.node()} | {platform.processor() or platform.machine()} | {cores} cores | "
            f"{device.platform}:{getattr(device, 'device_kind', '')} | jax {jax.__version__} | "
            f"python {platform.python_version()}")
