"""The examples of the two seed documents, written out as a user would, with torch spelled lucid.

Seed 1 is the ``nn.ModuleList`` reference page; seed 2 is the "Layers and Modules" notebook.
Each test follows its example line by line; where a document prints a value, the test checks
what that print shows.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

import lucid
import lucid.nn as nn
import lucid.nn.functional as F
from lucid import Tensor

# ----------------------------------------------------------------------------- seed 1: ModuleList


class DynamicNetwork(nn.Module):
    def __init__(self, input_size, hidden_sizes, output_size):
        super(DynamicNetwork, self).__init__()  # noqa: UP008 - as the document writes it
        self.layers = nn.ModuleList()
        for hidden_size in hidden_sizes:
            self.layers.append(nn.Linear(input_size, hidden_size))
            self.layers.append(nn.ReLU())
            input_size = hidden_size
        self.layers.append(nn.Linear(input_size, output_size))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def test_dynamic_network():
    model = DynamicNetwork(input_size=10, hidden_sizes=[20, 30], output_size=5)
    input_tensor = Tensor([[1.0] * 10], requires_grad=True)
    output = model(input_tensor)
    assert output.shape == (1, 5)
    assert "grad_fn=" in repr(output)
    output.sum().backward()
    assert input_tensor.grad is not None and input_tensor.grad.shape == (1, 10)
    # The gradient of the summed output is the product of the layer Jacobians.
    names = [n for n, _ in model.named_parameters()]
    assert names == ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias",
                     "layers.4.weight", "layers.4.bias"]
    assert all(p.grad is not None for p in model.parameters())


class ConvNetwork(nn.Module):
    def __init__(self):
        super(ConvNetwork, self).__init__()  # noqa: UP008
        self.conv_layers = nn.ModuleList([
            nn.Conv2D(in_channels=3, out_channels=16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2D(kernel_size=2, stride=2),
            nn.Conv2D(in_channels=16, out_channels=32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2D(kernel_size=2, stride=2),
        ])
        self.fc = nn.Linear(in_features=32 * 8 * 8, out_features=10)

    def forward(self, x):
        for layer in self.conv_layers:
            x = layer(x)
        x = x.view(x.size(0), -1)
        x = self.fc(x)
        return x


def test_conv_network():
    model = ConvNetwork()
    # The document elides the values ("1.0, 2.0, 3.0, ..., 32.0"); written out in full:
    values = np.arange(1.0, 3 * 32 * 32 + 1).reshape(1, 3, 32, 32) / 1000.0
    input_tensor = Tensor(values.tolist(), requires_grad=True)  # Shape: (1, 3, 32, 32)
    output = model(input_tensor)
    assert output.shape == (1, 10)
    output.sum().backward()
    assert input_tensor.grad.shape == (1, 3, 32, 32)
    assert np.isfinite(input_tensor.grad.numpy()).all()
    assert model.fc.weight.grad.shape == (10, 2048)


class HierarchicalNetwork(nn.Module):
    def __init__(self):
        super(HierarchicalNetwork, self).__init__()  # noqa: UP008
        self.layer_groups = nn.ModuleList()
        group1 = nn.ModuleList([
            nn.Linear(in_features=10, out_features=20),
            nn.ReLU(),
            nn.Linear(in_features=20, out_features=10),
        ])
        group2 = nn.ModuleList([
            nn.Linear(in_features=10, out_features=5),
            nn.Tanh(),
            nn.Linear(in_features=5, out_features=1),
        ])
        self.layer_groups.append(group1)
        self.layer_groups.append(group2)

    def forward(self, x):
        for group in self.layer_groups:
            for layer in group:
                x = layer(x)
        return x


def test_hierarchical_network():
    model = HierarchicalNetwork()
    input_tensor = Tensor([[1.0] * 10], requires_grad=True)
    output = model(input_tensor)
    assert output.shape == (1, 1)
    assert repr(output).startswith("Tensor([[")
    output.backward()  # a (1, 1) output: backward seeds it with ones
    assert input_tensor.grad.shape == (1, 10)


def test_module_list_inside_sequential():
    layers = nn.ModuleList([
        nn.Linear(in_features=10, out_features=20),
        nn.ReLU(),
        nn.Linear(in_features=20, out_features=10),
    ])
    model = nn.Sequential(OrderedDict([
        ("layer_sequence", layers),
        ("output_layer", nn.Linear(in_features=10, out_features=1)),
    ]))
    input_tensor = Tensor([[1.0] * 10], requires_grad=True)
    output = model(input_tensor)
    assert output.shape == (1, 1)
    output.backward()
    assert input_tensor.grad.shape == (1, 10)
    # The ModuleList stage applies its modules in order, as the document's formula says.
    with lucid.no_grad():
        manual = model.output_layer(layers[2](layers[1](layers[0](input_tensor))))
    np.testing.assert_allclose(output.detach().numpy(), manual.numpy(), rtol=1e-6)


# ----------------------------------------------------------------------------- seed 2: notebook

X = lucid.rand(2, 20)


def test_lazy_sequential_mlp():
    net = nn.Sequential(nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10))
    X = lucid.rand(2, 20)
    assert net(X).shape == (2, 10)
    assert repr(net(X).shape) == "lucid.Size([2, 10])"


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.LazyLinear(256)
        self.out = nn.LazyLinear(10)

    def forward(self, X):
        return self.out(F.relu(self.hidden(X)))


def test_custom_mlp():
    net = MLP()
    assert net(X).shape == (2, 10)


class MySequential(nn.Module):
    def __init__(self, *args):
        super().__init__()
        for idx, module in enumerate(args):
            self.add_module(str(idx), module)

    def forward(self, X):
        for module in self.children():
            X = module(X)
        return X


def test_my_sequential():
    net = MySequential(nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10))
    assert net(X).shape == (2, 10)


class FixedHiddenMlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.rand_weight = lucid.rand((20, 20))
        self.linear = nn.LazyLinear(20)

    def forward(self, X):
        X = self.linear(X)
        X = F.relu(X @ self.rand_weight + 1)
        X = self.linear(X)
        while X.abs().sum() > 1:
            X /= 2
        return X.sum()


def test_fixed_hidden_mlp():
    net = FixedHiddenMlp()
    out = net(X)
    assert out.shape == () and abs(out.item()) <= 1.0
    assert "grad_fn=<SumBackward>" in repr(out)
    # The constant is not a parameter; the shared layer's weight gets one gradient.
    assert [n for n, _ in net.named_parameters()] == ["linear.weight", "linear.bias"]
    out.backward()
    assert net.linear.weight.grad.shape == (20, 20)


class NestMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.LazyLinear(64), nn.ReLU(),
                                 nn.LazyLinear(32), nn.ReLU())
        self.linear = nn.LazyLinear(16)

    def forward(self, X):
        return self.linear(self.net(X))


def test_chimera():
    chimera = nn.Sequential(NestMLP(), nn.LazyLinear(20), FixedHiddenMlp())
    out = chimera(X)
    assert out.shape == () and "grad_fn=" in repr(out)


def test_parameter_access():
    net = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(1))
    X = lucid.rand(size=(2, 4))
    assert net(X).shape == (2, 1)
    sd = net[2].state_dict()
    assert isinstance(sd, OrderedDict) and list(sd) == ["weight", "bias"]
    assert sd["weight"].shape == (1, 8) and sd["bias"].shape == (1,)
    assert type(net[2].bias) is nn.Parameter
    assert isinstance(net[2].bias.data, lucid.Tensor)
    assert net[2].weight.grad == None  # noqa: E711 - the notebook's own spelling
    assert [(name, tuple(param.shape)) for name, param in net.named_parameters()] == [
        ("0.weight", (8, 4)), ("0.bias", (8,)), ("2.weight", (1, 8)), ("2.bias", (1,)),
    ]


def test_rand_size_keyword():
    assert lucid.rand(size=(2, 4)).shape == (2, 4)


def test_sharing_parameters():
    X = lucid.rand((2, 4))
    shared = nn.LazyLinear(8)
    net = nn.Sequential(nn.LazyLinear(8), nn.ReLU(),
                        shared, nn.ReLU(),
                        shared, nn.ReLU(),
                        nn.LazyLinear(1))
    net(X)
    # Check that the parameters are the same
    assert bool((net[2].weight.data[0] == net[4].weight.data[0]).all())
    net[2].weight.data[0, 0] = 100
    # They are the same object, not just equal values.
    assert net[2].weight.data[0, 0].item() == net[4].weight.data[0, 0].item() == 100
    assert net[2].weight is net[4].weight
    # Listed once; its gradient is the sum of both uses.
    assert [n for n, _ in net.named_parameters()] == [
        "0.weight", "0.bias", "2.weight", "2.bias", "6.weight", "6.bias"]
    net(X).sum().backward()
    assert net[2].weight.grad is not None
