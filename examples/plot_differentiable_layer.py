"""
A differentiable bi-level l1,inf projection layer, trained end to end
=====================================================================

The first layer of a small classifier sees its weight through a projection onto the
bi-level l1,inf ball [MLP, BLP]: with ``axis=0`` the groups are the columns of the
``nn.Linear`` weight, i.e. the input features, and the projection sets whole columns to
zero, which selects features.  The projection is a layer of the model
(:class:`multiproj.nn.Projection`, registered as a parametrization of the weight), so the
gradient of the loss flows *through* it to the free weight, and its radius is learned too:
the loss adds a cost ``alpha * radius`` that asks for a sparser model, balanced by the
classification loss that asks for a larger radius.

Data: the breast cancer data set bundled with scikit-learn (569 samples, 30 features).

References: [MLP] G. Perez, M. Barlaud, arXiv:2405.02086.  [BLP] M. Barlaud, G. Perez,
J.-P. Marmorat, arXiv:2407.16293.
"""

import matplotlib.pyplot as plt
import torch
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch import nn
from torch.nn.utils import parametrize

import multiproj
from multiproj.nn import Projection

torch.manual_seed(0)
torch.set_num_threads(1)

X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
scaler = StandardScaler().fit(X_train)
X_train = torch.tensor(scaler.transform(X_train), dtype=torch.float32)
X_test = torch.tensor(scaler.transform(X_test), dtype=torch.float32)
y_train = torch.tensor(y_train)
y_test = torch.tensor(y_test)

# %%
# The model: the first weight (16 x 30) is the bi-level l1,inf projection of a free
# parameter, at a learned radius.
model = nn.Sequential(nn.Linear(30, 16), nn.ReLU(), nn.Linear(16, 2))
proj = Projection(3.0, "l1,inf", method="bilevel", axis=0, learn_radius=True)
parametrize.register_parametrization(model[0], "weight", proj)

alpha = 0.02  # price of one unit of radius in the loss
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
loss_fn = nn.CrossEntropyLoss()
history, radii = [], []
for epoch in range(300):
    opt.zero_grad()
    task = loss_fn(model(X_train), y_train)
    loss = task + alpha * proj.radius
    loss.backward()  # through the projection, to the weight and to the radius
    opt.step()
    history.append(task.item())
    radii.append(float(proj.radius.detach()))

# %%
# Results: the projected weight has whole columns at zero (unselected features).
with torch.no_grad():
    W = model[0].weight
    acc = float((model(X_test).argmax(1) == y_test).float().mean())
    selected = int((W.abs().amax(dim=0) > 0).sum())
    norm = multiproj.norm(W, "l1,inf", axis=0)
print(f"learned radius {radii[-1]:.3f} (l1,inf norm of the weight {norm:.3f})")
print(f"selected features: {selected} of {W.shape[1]}; test accuracy {acc:.3f}")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(history, label="cross-entropy (train)")
ax.set_xlabel("epoch")
ax.set_ylabel("loss")
ax2 = ax.twinx()
ax2.plot(radii, color="tab:orange", label="radius")
ax2.set_ylabel("learned radius")
ax.set_title("Training through a bi-level l1,inf projection layer")
fig.legend(loc="upper right")
fig.tight_layout()
plt.show()
