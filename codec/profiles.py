"""The encoder factory: a profile name (the source's ``--profile``) and options in, an encoder out."""

from depthcam.codec.classic import ClassicEncoder, Coding, best_coding
from depthcam.codec.fine import FineInverseEncoder
from depthcam.codec.lossless import LosslessEncoder
from depthcam.codec.reduction import Reduction

# What ``--profile`` accepts, in the order its help lists them.
PROFILE_NAMES = ("classic", "classic-lzma", "lossless", "fine")


def make_encoder(name, *, keyframe_interval=None, near_mm=500, far_mm=8000,
                 reduction=Reduction.NEAREST_SURFACE, error_mm=None):
    """The encoder of profile ``name``, given the source's options.

    Options a profile has no use for are ignored: every lossless and fine frame is a keyframe, so
    they take no ``keyframe_interval``; only classic and classic-lzma take ``reduction``, only fine
    ``error_mm`` (its depth error at 1.8 m, mm, growing as depth squared; None =
    FineEncoder.ERROR_MM). ``classic`` sends classic-cm where the compiled coder is built, and
    classic-lzma's LZMA coding otherwise; ``fine`` sends fine-inverse (FORMAT.md's profile 6).
    """
    if name == "classic":
        return ClassicEncoder(keyframe_interval, near_mm, far_mm, reduction, best_coding())
    if name == "classic-lzma":
        return ClassicEncoder(keyframe_interval, near_mm, far_mm, reduction, Coding.LZMA)
    if name == "lossless":
        return LosslessEncoder(near_mm, far_mm)
    if name == "fine":
        return FineInverseEncoder(error_mm, near_mm, far_mm)
    raise ValueError(f"unknown profile {name!r} (choose from {', '.join(PROFILE_NAMES)})")
