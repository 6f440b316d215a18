"""Small reference models: an MLP and a CNN (LeNet-like) for 28x28 images."""

from __future__ import annotations

from .. import nn
from .._tensor import Tensor


class MLP(nn.Module):
    """Linear -> ReLU layers: MLP(784, [256], 10) maps (B, 784) -> (B, 10)."""

    def __init__(
        self,
        in_features: int = 784,
        hidden: tuple | list = (256,),
        out_features: int = 10,
        dropout: float = 0.0,
    ):
        super().__init__()
        layers = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, out_features))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(1))


class SmallCNN(nn.Module):
    """Two 3x3 conv layers with max pooling, then a linear classifier: (B, 1, 28, 28) -> (B, 10)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, width: int = 32):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (B, w, 14, 14)
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (B, 2w, 7, 7)
        )
        self.classifier = nn.Linear(2 * width * 7 * 7, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x).flatten(1))
