"""The synthetic marketing world: extracts of every contract source plus their ground truth."""

from liftline.synth.generate import GenerateError, Summary, generate

__all__ = ["GenerateError", "Summary", "generate"]
