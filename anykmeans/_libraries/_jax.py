"""JAX: each chunk's maths compiled, float32 products at full precision.

JAX dispatches each operation on its own; compiled with ``jax.jit``, a chunk
is one call, several times faster (docs/notes/benchmark-history.md). Matrix products,
compiled or not, run at ``"highest"`` precision: on recent GPUs JAX's default takes
float32 products through TF32, far coarser than the rounding that the tie test allows
for. JAX arrays are immutable, so the reference code's in-place operators
rebind instead. On an accelerator ``jax.ops.segment_sum`` adds atomically, so
the accelerator plan keeps the reference one-hot product.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import array_api_compat

from ._base import Library
from ._devices import Backend
from ._plan import ladder_size
from ._types import Array, Namespace

T = TypeVar("T")

class Jax(Library):
    """``jax.Array`` arrays, on any of JAX's devices."""

    name = "jax"
    native_segment_sum = True
    install = "pip install jax"
    modules = ("jaxlib",)  # JAX's device types live there
    traced = True

    @staticmethod
    def owns(x: Array) -> bool:
        return array_api_compat.is_jax_array(x)

    def is_accelerator(self, device: Any) -> bool:
        return getattr(device, "platform", "cpu") != "cpu"

    def backends(self, module: Any) -> list[Backend]:
        jax = module
        import jax.numpy as jnp

        note = jax.__version__ + ("" if jax.config.jax_enable_x64
                                  else "; float64 needs jax_enable_x64")
        return [Backend("jax", str(d.platform), True, note,
                        lambda x, d=d: jax.device_put(jnp.asarray(x), d))
                for d in jax.devices()]

    def array_on(self, device: Any = None) -> Array:
        """On a JAX device, or the one a name gives as ``platform[:index]`` ("cpu", "gpu:1")."""
        import jax
        import jax.numpy as jnp

        if isinstance(device, str):
            platform, _, index = device.partition(":")
            try:
                device = jax.devices(platform)[int(index or 0)]
            except (RuntimeError, ValueError, IndexError) as exc:
                raise ValueError(f"JAX has no device {device!r} here ({exc}).") from exc
        return jax.device_put(jnp.empty(0), device)

    def enable_float64(self) -> None:
        import jax

        jax.config.update("jax_enable_x64", True)

    def device_memory(self, device: Any) -> int | None:
        """What JAX's allocator may take of the device (its ``bytes_limit``)."""
        stats = device.memory_stats() if hasattr(device, "memory_stats") else None
        if not stats or "bytes_limit" not in stats:
            return None
        return stats["bytes_limit"]

    def compiled(self, function: Callable[..., T],
                 static_argnums: tuple[int, ...]) -> Callable[..., T]:
        return _jit(function, static_argnums)

    def padded_rows(self, n_rows: int) -> int:
        """The ladder's size on either plan: JAX compiles every operation per shape."""
        return ladder_size(n_rows)

    def matmul(self, xp: Namespace, a: Array, b: Array) -> Array:
        """``a @ b`` at ``"highest"`` precision, whatever ``jax_default_matmul_precision`` says
        (eager or traced: the precision is the product's own argument)."""
        import jax

        return jax.numpy.matmul(a, b, precision=jax.lax.Precision.HIGHEST)

    def stacked_rows(self, xp: Namespace, parts: Iterable[Array], n_rows: int) -> Array:
        """Concatenated: JAX arrays cannot be written into."""
        return xp.concat(list(parts))

    def segment_sum(self, xp: Namespace, values: Array, segment_ids: Array,
                    n_segments: int, dtype: Any = None) -> Array:
        if self.accelerator:
            return super().segment_sum(xp, values, segment_ids, n_segments, dtype)
        import jax

        if dtype is not None:
            values = values.astype(dtype)
        return jax.ops.segment_sum(values, segment_ids, num_segments=n_segments)


@functools.cache
def _jit(function: Callable[..., T], static_argnums: tuple[int, ...]) -> Callable[..., T]:
    """``function`` compiled once (traced once per chunk shape)."""
    import jax

    return jax.jit(function, static_argnums=static_argnums)
