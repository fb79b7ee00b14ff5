"""`ModelConfig`: every setting that fixes the shape of `AnyMoModel` (saved in each checkpoint)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the encoder, tokenizer and joint space. Defaults = the shipped ``anymo-edge-small``.

    The input is always the one model input: ``window_len`` samples at 60 Hz of 6 channels per sensor.
    ``token_steps`` time steps per window (10 = one step per 0.5 s), each quantised by ``n_codebooks``
    product-quantisation codebooks of ``codebook_size`` codes of ``codebook_dim`` each.
    """

    window_len: int = 300  # samples per window (5 s at 60 Hz)
    conv_channels: tuple[int, ...] = (24, 48, 64, 96)  # per-sensor temporal encoder widths
    conv_strides: tuple[int, ...] = (2, 3, 1, 5)  # product = window_len / token_steps
    conv_kernel: int = 5
    conv_norm: str = "batch"  # "batch" (folds into the conv at export), "group" (per-window scale lost), "none"
    d_model: int = 96  # width of the sensor graph / time transformer
    n_heads: int = 4
    sensor_layers: int = 2  # attention across sensors (per time step), kinematic-tree biased
    time_layers: int = 2  # attention across time of the pooled full-body representation
    ffn_mult: int = 2
    token_steps: int = 10  # token steps per window (one per 0.5 s)
    n_codebooks: int = 2
    codebook_size: int = 256
    codebook_dim: int = 32
    embed_dim: int = 256  # joint IMU-text space
    text_dim: int = 384  # MiniLM sentence embedding
    max_graph_distance: int = 8  # kinematic-tree distances above this share one attention bias
    use_geometry: bool = True  # False: the "no geometry embedding" ablation (placement ignored)
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if len(self.conv_channels) != len(self.conv_strides):
            raise ValueError("conv_channels and conv_strides must have the same length")
        prod = 1
        for s in self.conv_strides:
            prod *= s
        if prod * self.token_steps != self.window_len:
            raise ValueError(f"conv_strides multiply to {prod}: {prod} x token_steps {self.token_steps} must equal window_len {self.window_len}")
        if self.conv_norm not in ("batch", "group", "none"):
            raise ValueError(f"conv_norm must be 'batch', 'group' or 'none', got {self.conv_norm!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} must be divisible by n_heads {self.n_heads}")
        if self.conv_channels[-1] != self.d_model:
            raise ValueError(f"the last conv width {self.conv_channels[-1]} must equal d_model {self.d_model}")

    @property
    def samples_per_token(self) -> int:
        return self.window_len // self.token_steps

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        """Inverse of `to_dict`; unknown keys are an error (a checkpoint of another model version)."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown ModelConfig fields {unknown}: the checkpoint was written by another model version")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})
