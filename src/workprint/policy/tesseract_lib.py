"""Tesseract in-process, through its C API (Debian's ``libtesseract5``, installed with
``tesseract-ocr``).

The CLI (:class:`~workprint.policy.redact_pixels.TesseractOcr`) loads the English model
again for every call - ~0.13 s of CPU before it reads a single pixel. Here the model is
loaded once per engine and each call costs only the recognition, so small crops (one
line of text) are cheap enough to read one by one. Pixels go from a numpy array straight
into the library: nothing touches the disk.

The library's API object is not thread-safe: an engine serialises its calls with a lock, so
two threads may share one (the terminal prompt reader shares the text masker's, one model in
memory instead of two); ``ctypes`` releases the GIL while Tesseract works.
:meth:`TesseractLib.close` frees the model.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading

import numpy as np

from ..costs import STAGES

_LIB_NAMES = ("libtesseract.so.5", "libtesseract.so")

#: Tesseract page segmentation modes used here
PSM_BLOCK = 6   # a uniform block of text (one or more lines)
PSM_LINE = 7    # exactly one text line
PSM_SPARSE = 11


def _load() -> ctypes.CDLL | None:
    for name in (*_LIB_NAMES, ctypes.util.find_library("tesseract")):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        vp, cp, ci = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
        lib.TessBaseAPICreate.restype = vp
        lib.TessBaseAPIInit3.argtypes = [vp, cp, cp]
        lib.TessBaseAPIInit3.restype = ci
        lib.TessBaseAPISetVariable.argtypes = [vp, cp, cp]
        lib.TessBaseAPISetPageSegMode.argtypes = [vp, ci]
        lib.TessBaseAPISetImage.argtypes = [vp, vp, ci, ci, ci, ci]
        lib.TessBaseAPISetSourceResolution.argtypes = [vp, ci]
        lib.TessBaseAPIRecognize.argtypes = [vp, vp]
        lib.TessBaseAPIRecognize.restype = ci
        lib.TessBaseAPIGetTsvText.argtypes = [vp, ci]
        lib.TessBaseAPIGetTsvText.restype = vp
        lib.TessDeleteText.argtypes = [vp]
        lib.TessBaseAPIClear.argtypes = [vp]
        lib.TessBaseAPIEnd.argtypes = [vp]
        lib.TessBaseAPIDelete.argtypes = [vp]
        return lib
    return None


_LIB: ctypes.CDLL | None = None
_LIB_LOCK = threading.Lock()


def library() -> ctypes.CDLL | None:
    """The loaded library, or None when it is not installed."""
    global _LIB
    with _LIB_LOCK:
        if _LIB is None:
            _LIB = _load()
        return _LIB


class TesseractLib:
    """An :class:`~workprint.policy.redact_pixels.OcrEngine` over libtesseract.

    ``psm`` is the default page segmentation mode; :meth:`words` takes another per call.
    Raises :class:`~workprint.policy.redact_pixels.OcrError` when the library or the
    language model is missing."""

    def __init__(self, *, psm: int = PSM_BLOCK, lang: str = "eng", ppi: int = 150):
        from .redact_pixels import OcrError

        os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # read when the library starts threads
        lib = library()
        if lib is None:
            raise OcrError("libtesseract is not installed; install it with "
                           "'apt-get install tesseract-ocr' or turn off screenshots.ocr_mask")
        self._lib = lib
        self.psm = psm
        self.ppi = ppi
        self._lang = lang.encode()
        self._api: int | None = None
        self._mode: int | None = None
        self._lock = threading.Lock()  # one call at a time: the API object is not thread-safe
        self.calls = 0
        self._init()  # fail now (not on the first frame) when the model is missing

    def _init(self) -> None:
        from .redact_pixels import OcrError

        with STAGES.measure("ocr_init"):
            api = self._lib.TessBaseAPICreate()
            if self._lib.TessBaseAPIInit3(api, None, self._lang) != 0:
                self._lib.TessBaseAPIDelete(api)
                raise OcrError(f"Tesseract has no {self._lang.decode()!r} model; install "
                               f"'tesseract-ocr-{self._lang.decode()}'")
            self._lib.TessBaseAPISetVariable(api, b"debug_file", b"/dev/null")
        self._api, self._mode = api, None

    def words(self, image: np.ndarray, psm: int | None = None):
        """Words in a ``(h, w)`` uint8 grayscale image, boxes in its coordinates."""
        img = np.ascontiguousarray(image, dtype=np.uint8)
        if img.shape[0] == 0 or img.shape[1] == 0:
            return []
        with self._lock:
            return self._words(img, self.psm if psm is None else psm)

    def _words(self, img: np.ndarray, mode: int):
        from .redact_pixels import OcrError, parse_tsv

        if self._api is None:
            self._init()
        h, w = img.shape
        lib, api = self._lib, self._api
        if mode != self._mode:
            lib.TessBaseAPISetPageSegMode(api, mode)
            self._mode = mode
        lib.TessBaseAPISetImage(api, img.ctypes.data, w, h, 1, w)
        lib.TessBaseAPISetSourceResolution(api, self.ppi)
        self.calls += 1
        if lib.TessBaseAPIRecognize(api, None) != 0:
            lib.TessBaseAPIClear(api)
            raise OcrError("Tesseract failed to recognise an image")
        ptr = lib.TessBaseAPIGetTsvText(api, 0)
        try:
            tsv = ctypes.string_at(ptr).decode("utf-8", errors="replace") if ptr else ""
        finally:
            if ptr:
                lib.TessDeleteText(ptr)
            lib.TessBaseAPIClear(api)
        return parse_tsv("header\n" + tsv)

    def close(self) -> None:
        with self._lock:
            if self._api is not None:
                self._lib.TessBaseAPIEnd(self._api)
                self._lib.TessBaseAPIDelete(self._api)
                self._api = None

    def __del__(self) -> None:  # pragma: no cover - best effort at interpreter exit
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass


__all__ = ["TesseractLib", "library", "PSM_BLOCK", "PSM_LINE", "PSM_SPARSE"]
