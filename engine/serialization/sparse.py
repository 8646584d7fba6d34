"""SciPy sparse matrices as ``.npz`` archives (``scipy.sparse.save_npz``), read without pickle.

``scipy.sparse.load_npz`` would inflate every archive member without a size limit, so the
archive is opened here: member sizes are checked against the budget before inflating, each
member is read with the same ``.npy`` reader as ndarrays, and the matrix class comes from a
fixed table, never from a name in the payload. SciPy is imported only when a matrix is met.
"""

from __future__ import annotations

import io
import sys
import zipfile
from typing import Any

from engine.errors import DecodeBudgetExceeded, DecodeError
from engine.serialization.budget import Budget
from engine.serialization.npy import read_npy

_FORMATS = {
    "csr": ("data", "indices", "indptr"),
    "csc": ("data", "indices", "indptr"),
    "bsr": ("data", "indices", "indptr"),
    "dia": ("data", "offsets"),
    "coo": ("data",),
}
_MEMBERS = frozenset(
    {"format", "shape", "data", "indices", "indptr", "offsets", "row", "col", "coords", "_is_array"}
)


def is_sparse(obj: Any) -> bool:
    """Whether ``obj`` is a SciPy sparse matrix or array (SciPy is not imported to check)."""
    scipy_sparse = sys.modules.get("scipy.sparse")
    return scipy_sparse is not None and isinstance(
        obj, (scipy_sparse.spmatrix, scipy_sparse.sparray)
    )


def write_npz(matrix: Any) -> bytes:
    """What ``scipy.sparse.save_npz`` writes for ``matrix``."""
    from scipy.sparse import save_npz

    with io.BytesIO() as buffer:
        save_npz(buffer, matrix)
        return buffer.getvalue()


def read_npz(data: bytes, budget: Budget) -> Any:
    """The sparse matrix in an ``.npz`` archive written by ``save_npz``."""

    def bad(rule: str) -> DecodeError:
        return DecodeError(f"spmatrix: {rule}")

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise bad(f"value is not an .npz archive ({exc})") from None
    with archive:
        members: dict[str, Any] = {}
        infos = archive.infolist()
        limit = budget.allowance()
        declared = sum(info.file_size for info in infos)
        if declared > limit:
            raise DecodeBudgetExceeded(
                f"spmatrix: archive members declare {declared} bytes, over the {limit}-byte "
                f"limit ({budget.allowance_limit()})",
                budget.allowance_limit(),
            )
        budget.charge_array(declared, "spmatrix")
        for info in infos:
            name = info.filename.removesuffix(".npy")
            if name not in _MEMBERS or name in members:
                raise bad(f"unexpected archive member {info.filename!r}")
            try:
                with archive.open(info) as member:
                    raw = bytearray(member.read(info.file_size + 1))
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
                raise bad(f"member {info.filename!r} cannot be read ({exc})") from None
            if len(raw) > info.file_size:
                raise bad(f"member {info.filename!r} is longer than it declares")
            budget.charge(len(raw))
            members[name] = read_npy(raw, "spmatrix")
    return _build(members, bad)


def _build(members: dict[str, Any], bad: Any) -> Any:
    import scipy.sparse

    if "format" not in members or "shape" not in members:
        raise bad("archive lacks its format or shape")
    kind = members["format"].item()
    if isinstance(kind, bytes):
        kind = kind.decode("ascii", "replace")
    if kind not in _FORMATS:
        raise bad(f"sparse format {kind!r} is not one of {', '.join(_FORMATS)}")
    needed = _FORMATS[kind]
    missing = [name for name in needed if name not in members]
    if missing:
        raise bad(f"{kind} archive lacks {', '.join(missing)}")
    shape = tuple(int(size) for size in members["shape"].tolist())
    is_array = bool(members.get("_is_array", False))
    cls = getattr(scipy.sparse, f"{kind}_array" if is_array else f"{kind}_matrix")
    arrays = tuple(members[name] for name in needed)
    try:
        if kind == "coo":
            if "coords" in members:
                return cls((members["data"], members["coords"]), shape=shape)
            if "row" not in members or "col" not in members:
                raise bad("coo archive lacks its coordinates")
            return cls((members["data"], (members["row"], members["col"])), shape=shape)
        return cls(arrays, shape=shape)
    except (ValueError, TypeError, IndexError, OverflowError, MemoryError) as exc:
        raise bad(f"{kind} matrix is inconsistent ({exc})") from None
