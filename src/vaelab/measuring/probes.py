"""How much of the data's structure the codes keep: active units, and how well the labels
can be read off the codes by a linear classifier and by nearest neighbours."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vaelab.memory import rows_per_block

ACTIVE = 0.01  # Burda et al. (2016): a unit is active if its posterior mean varies by more
KNN = 5  # neighbours that vote in the k-nearest-neighbour probe


def active_units(means: torch.Tensor, threshold: float = ACTIVE) -> int:
    """Latent dimensions whose posterior mean varies over the data by more than ``threshold``
    (in variance): Cov_x(E_q[u]) > 0.01, as Burda, Grosse & Salakhutdinov define it. (N, d)"""
    return int((means.double().var(dim=0) > threshold).sum())


def linear_probe(train_codes: torch.Tensor, train_labels: torch.Tensor,
                 test_codes: torch.Tensor, test_labels: torch.Tensor, *,
                 weight_decay: float = 1e-4, steps: int = 100) -> float:
    """Test accuracy of multinomial logistic regression fitted to the training codes.

    The codes are standardised with the training set's mean and spread; the fit is full-batch
    L-BFGS on the mean cross-entropy plus ``weight_decay`` times the squared weights, which
    converges in well under a second for codes of the sizes used here.
    """
    train_codes, test_codes = train_codes.double().cpu(), test_codes.double().cpu()
    train_labels, test_labels = train_labels.cpu(), test_labels.cpu()
    center, scale = train_codes.mean(dim=0), train_codes.std(dim=0).clamp_min(1e-12)
    x_train, x_test = (train_codes - center) / scale, (test_codes - center) / scale
    classes = int(max(train_labels.max(), test_labels.max())) + 1
    weight = torch.zeros(x_train.shape[1], classes, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=steps, history_size=20,
                                  line_search_fn="strong_wolfe")

    def objective() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(x_train @ weight + bias, train_labels)
        loss = loss + weight_decay * weight.square().sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(objective)
    with torch.no_grad():
        predicted = (x_test @ weight + bias).argmax(dim=1)
    return (predicted == test_labels).double().mean().item()


def knn_accuracy(train_codes: torch.Tensor, train_labels: torch.Tensor,
                 test_codes: torch.Tensor, test_labels: torch.Tensor, *, k: int = KNN,
                 batch_size: int | None = None) -> float:
    """Test accuracy of a k-nearest-neighbour vote among the training codes (exact Euclidean
    distance in the latent space itself; ties go to the class whose voters are nearer).
    ``batch_size`` test codes at a time (default: as many as leave their distances to every
    training code a heap block, vaelab.memory's rows_per_block; at most 50)."""
    train_codes, test_codes = train_codes.float().cpu(), test_codes.float().cpu()
    if batch_size is None:
        batch_size = rows_per_block((len(train_codes),), most=50)
    train_labels, test_labels = train_labels.cpu(), test_labels.cpu()
    classes = int(max(train_labels.max(), test_labels.max())) + 1
    correct = 0
    for start in range(0, len(test_codes), batch_size):
        # Each distance from the codes' differences, not from their squared norms and a
        # product: exact, and so the same votes whatever the batch (the product's rounding
        # depends on the batch's size, and it decided near ties).
        distances = torch.cdist(test_codes[start:start + batch_size], train_codes,
                                compute_mode="donot_use_mm_for_euclid_dist")  # (b, N)
        nearest = distances.topk(k, dim=1, largest=False).indices  # (b, k), nearest first
        votes = F.one_hot(train_labels[nearest], classes).float()  # (b, k, classes)
        # Weights 1, 1 - 1e-3, 1 - 2e-3, ...: counts decide, nearness breaks ties.
        rank = 1 - 1e-3 * torch.arange(k, dtype=torch.float32)
        predicted = (votes * rank[None, :, None]).sum(dim=1).argmax(dim=1)
        correct += int((predicted == test_labels[start:start + batch_size]).sum())
    return correct / len(test_codes)
