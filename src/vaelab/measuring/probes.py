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
    converges in well under a second for codes of the sizes used here. Its gradient is
    written out (softmax minus one-hot), each evaluation working in the same two buffers.
    """
    train_codes, test_codes = train_codes.double().cpu(), test_codes.double().cpu()
    train_labels, test_labels = train_labels.cpu().long(), test_labels.cpu().long()
    center, scale = train_codes.mean(dim=0), train_codes.std(dim=0).clamp_min(1e-12)
    x_train, x_test = (train_codes - center) / scale, (test_codes - center) / scale
    n, classes = len(x_train), int(max(train_labels.max(), test_labels.max())) + 1
    weight = torch.zeros(x_train.shape[1], classes, dtype=torch.float64)
    bias = torch.zeros(classes, dtype=torch.float64)
    weight.grad, bias.grad = torch.zeros_like(weight), torch.zeros_like(bias)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=steps, history_size=20,
                                  line_search_fn="strong_wolfe")
    labels = train_labels[:, None]  # (N, 1)
    log_p = torch.empty(n, classes, dtype=torch.float64)  # (N, classes)
    norms = torch.empty(n, 1, dtype=torch.float64)

    def objective() -> torch.Tensor:
        torch.addmm(bias, x_train, weight, out=log_p)  # logits
        log_p.sub_(torch.logsumexp(log_p, dim=1, keepdim=True, out=norms))
        loss = -log_p.gather(1, labels).mean() + weight_decay * weight.square().sum()
        error = log_p.exp_().scatter_add_(1, labels, norms.fill_(-1.0))  # softmax - one-hot
        torch.addmm(weight, x_train.T, error, beta=2 * weight_decay, alpha=1 / n,
                    out=weight.grad)
        torch.sum(error, dim=0, out=bias.grad).div_(n)
        return loss

    optimizer.step(objective)
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
    columns = train_codes.T.contiguous()  # (d, N): each coordinate of every training code
    # Weights 1, 1 - 1e-3, 1 - 2e-3, ...: counts decide, nearness breaks ties.
    rank = 1 - 1e-3 * torch.arange(k, dtype=torch.float32)
    correct = 0
    for start in range(0, len(test_codes), batch_size):
        distances = squared_distances(test_codes[start:start + batch_size], columns)  # (b, N)
        nearest = distances.topk(k, dim=1, largest=False).indices  # (b, k), nearest first
        votes = F.one_hot(train_labels[nearest], classes).float()  # (b, k, classes)
        predicted = (votes * rank[None, :, None]).sum(dim=1).argmax(dim=1)
        correct += int((predicted == test_labels[start:start + batch_size]).sum())
    return correct / len(test_codes)


def squared_distances(codes: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances of codes (b, d) to the codes whose coordinates are the rows
    of ``columns`` (d, N): (b, N). Each is summed from the coordinates' differences, in the
    same order whatever the batch: exact, and so the same votes however the codes are batched
    (from squared norms and a matrix product, the rounding depends on the batch's size, and
    it decided near ties). Three to four times as fast as torch.cdist's own exact mode."""
    difference = codes[:, :1] - columns[0]  # (b, N)
    total = difference.square()
    for j in range(1, len(columns)):
        torch.sub(codes[:, j:j + 1], columns[j], out=difference)
        total.addcmul_(difference, difference)
    return total
