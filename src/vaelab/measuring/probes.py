"""How much of the data's structure the codes keep: active units, and how well the labels
can be read off the codes by a linear classifier and by nearest neighbours."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vaelab.errors import VaelabError
from vaelab.memory import rows_per_block
from vaelab.optimizers import LBFGS

ACTIVE = 0.01  # Burda et al. (2016): a unit is active if its posterior mean varies by more
KNN = 5  # neighbours that vote in the k-nearest-neighbour probe


def active_units(means: torch.Tensor, threshold: float = ACTIVE) -> int:
    """Latent dimensions whose posterior mean varies over the data by more than ``threshold``
    (in variance): Cov_x(E_q[u]) > 0.01, as Burda, Grosse & Salakhutdinov define it. (N, d)"""
    return int((means.cpu().double().var(dim=0) > threshold).sum())  # MPS: no float64


def linear_probe(train_codes: torch.Tensor, train_labels: torch.Tensor,
                 test_codes: torch.Tensor, test_labels: torch.Tensor, *,
                 weight_decay: float = 1e-4, steps: int = 100) -> float:
    """Test accuracy of multinomial logistic regression fitted to the training codes.

    The codes are standardised with the training set's mean and spread; the fit is full-batch
    L-BFGS on the mean cross-entropy plus ``weight_decay`` times the squared weights, which
    converges in well under a second for codes of the sizes used here. Its gradient is
    written out (softmax minus one-hot), each evaluation working in the same two buffers.
    """
    train_codes, test_codes = train_codes.cpu().double(), test_codes.cpu().double()
    train_labels, test_labels = train_labels.cpu().long(), test_labels.cpu().long()
    center, scale = train_codes.mean(dim=0), train_codes.std(dim=0).clamp_min(1e-12)
    x_train, x_test = (train_codes - center) / scale, (test_codes - center) / scale
    n, classes = len(x_train), int(max(train_labels.max(), test_labels.max())) + 1
    weight = torch.zeros(x_train.shape[1], classes, dtype=torch.float64)
    bias = torch.zeros(classes, dtype=torch.float64)
    weight.grad, bias.grad = torch.zeros_like(weight), torch.zeros_like(bias)
    optimizer = LBFGS([weight, bias], max_iter=steps, history_size=20,
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
    return (predicted == test_labels).double().mean().item()  # both on the CPU


def knn_accuracy(train_codes: torch.Tensor, train_labels: torch.Tensor,
                 test_codes: torch.Tensor, test_labels: torch.Tensor, *, k: int = KNN,
                 batch_size: int | None = None) -> float:
    """Test accuracy of a k-nearest-neighbour vote among the training codes (``nearest``:
    exact Euclidean distance in the latent space itself; all of them where there are fewer
    than k). A tie of the count goes to the class whose voters are nearer, their ranks (0 for
    the nearest) summing lower; a tie of that too, to the lower class number."""
    k = min(k, len(train_codes))
    train_labels, test_labels = train_labels.cpu().long(), test_labels.cpu().long()
    classes = int(max(train_labels.max(), test_labels.max())) + 1
    neighbours = nearest(train_codes, test_codes, k, batch_size)  # (M, k)
    # Each vote weighs 1000 * k less its rank, in whole numbers: counts decide, the sum of
    # the ranks breaks their ties exactly, and argmax takes the first of equal ones.
    weight = 1000 * k - torch.arange(k)
    votes = F.one_hot(train_labels[neighbours], classes)  # (M, k, classes) int64
    predicted = (votes * weight[None, :, None]).sum(dim=1).argmax(dim=1)
    return int((predicted == test_labels).sum()) / len(test_codes)


def nearest(train_codes: torch.Tensor, test_codes: torch.Tensor, k: int = KNN,
            batch_size: int | None = None) -> torch.Tensor:
    """The training indices (M, k) of each test code's k nearest training codes, nearest
    first, by exact Euclidean distance; of codes equally far, the one that comes first in the
    training set is nearer. Codes (N, d) and (M, d).

    In a latent space of at most ``SORTED_DIMS`` dimensions, each test code's neighbours are
    first sought among the training codes nearest to it along the coordinate of widest
    spread (``WINDOWS``): where every code outside that window lies farther along that
    coordinate alone than the k-th nearest inside it, they are the nearest of all, exactly (a
    rounded sum of squares is never below one of its terms). The others, and every code of a
    wider latent space, are compared with every training code, ``batch_size`` test codes at a
    time (default: as many as leave their distances to every training code a heap block,
    vaelab.memory's rows_per_block; at most 50). The neighbours are the same either way, and
    however the codes are batched."""
    if not 1 <= k <= len(train_codes):
        raise VaelabError(f"the {k} nearest of {len(train_codes)} training codes: k must be "
                          f"from 1 to their number")
    train_codes, test_codes = train_codes.float().cpu(), test_codes.float().cpu()
    found = torch.empty(len(test_codes), k, dtype=torch.long)
    left = torch.arange(len(test_codes))  # test codes whose neighbours are not known yet
    narrow = train_codes.shape[1] <= SORTED_DIMS
    sorted_codes = _sorted_along_widest(train_codes) if narrow else None  # once, for every window
    for half in WINDOWS if sorted_codes is not None else ():
        if not k <= 2 * half < len(train_codes) or len(left) == 0:
            continue  # a window of fewer than k codes, or no codes outside it
        whole, their_nearest = _nearest_in_windows(sorted_codes, test_codes[left], k, half)
        found[left[whole]] = their_nearest
        left = left[~whole]
    if batch_size is None:
        batch_size = rows_per_block((len(train_codes),), most=50)
    columns = train_codes.T.contiguous()  # (d, N): each coordinate of every training code
    everyone = torch.arange(len(train_codes))
    for start in range(0, len(left), batch_size):
        rows = left[start:start + batch_size]
        distances = squared_distances(test_codes[rows], columns)  # (b, N)
        found[rows] = _smallest(distances, everyone.expand_as(distances), k)
    return found


SORTED_DIMS = 2  # latent sizes whose neighbours are sought first along one coordinate (wider
# ones find them there too rarely to gain: of 10,000 test codes among 60,000 uniform in 4-D,
# none within 512, and sorting took longer than comparing every pair)
# Training codes taken on each side of a test code along that coordinate, in turn: of the
# demo's VAE's 10,000 test codes, 86% find their neighbours within 512, and all but one of
# the rest within 4096 (0.36 s in all, one thread, against 1.9 s comparing every pair).
WINDOWS = (512, 4096)
WINDOW_CODES = 2 ** 17  # test codes sought at once times their window: 0.5 MB a distance


SortedCodes = tuple[int, torch.Tensor, torch.Tensor, torch.Tensor]


def _sorted_along_widest(train_codes: torch.Tensor) -> SortedCodes:
    """The training codes (N, d) sorted along their coordinate of widest spread between its
    quartiles (a few outliers do not make a coordinate of codes otherwise all alike, an
    inactive unit, the one to sort by): that coordinate, its values in order (N,), the
    training index at each position (N,), and every coordinate in that order (d, N)."""
    values, indices = torch.sort(train_codes, dim=0, stable=True)  # ties keep their order
    axis = int((values[3 * len(values) // 4] - values[len(values) // 4]).argmax())
    order = indices[:, axis]
    return axis, values[:, axis].contiguous(), order, train_codes[order].T.contiguous()


def _nearest_in_windows(sorted_codes: SortedCodes, test_codes: torch.Tensor, k: int,
                        half: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Which test codes (M,) have their k nearest training codes among the ``2 * half``
    nearest along the coordinate the training codes are sorted by (``_sorted_along_widest``),
    and those neighbours' training indices (found, k), nearest first; k <= 2 * half < N."""
    axis, along, order, columns = sorted_codes
    last = len(along) - 2 * half  # the last window's first position
    offsets = torch.arange(2 * half)
    rows = max(1, WINDOW_CODES // (2 * half))
    whole = torch.zeros(len(test_codes), dtype=torch.bool)
    neighbours = []
    for start in range(0, len(test_codes), rows):
        codes = test_codes[start:start + rows]  # (b, d)
        first = (torch.searchsorted(along, codes[:, axis].contiguous()) - half).clamp(0, last)
        window = first[:, None] + offsets  # (b, 2 half) positions along the axis
        distances = squared_distances(codes, columns, window)  # (b, 2 half)
        best = _smallest(distances, order[window], k)  # (b, k) positions in the window
        kth = distances.gather(1, best[:, -1:]).squeeze(1)  # (b,)
        # The nearest code outside the window on either side, along the axis alone; none
        # there: no bound needed.
        below, above = first - 1, first + 2 * half
        gap_below = _axis_gap(codes[:, axis], along, below)
        gap_above = _axis_gap(codes[:, axis], along, above)
        inside = (gap_below > kth) & (gap_above > kth)
        whole[start:start + len(codes)] = inside
        neighbours.append(order[window.gather(1, best)][inside])
    return whole, torch.cat(neighbours)


def _axis_gap(values: torch.Tensor, along: torch.Tensor, at: torch.Tensor) -> torch.Tensor:
    """The squared distance along the axis from each value (b,) to the sorted training code at
    position ``at`` (b,), rounded as squared_distances rounds it; infinite where there is no
    code at that position."""
    inside = (at >= 0) & (at < len(along))
    gap = torch.sub(values, along[at.clamp(0, len(along) - 1)]).square()
    return torch.where(inside, gap, torch.inf)


def _smallest(distances: torch.Tensor, indices: torch.Tensor, k: int) -> torch.Tensor:
    """Positions (b, k) of the k smallest distances of each row (b, n), nearest first; of
    equal distances, the one of the lower training index in ``indices`` (b, n) first (a NaN
    comes after every number)."""
    take = min(k + 1, distances.shape[1])
    values, at = distances.topk(take, dim=1, largest=False)  # (b, take), nearest first
    if take > k:  # a row whose k-th and (k+1)-th are equal: which of them is in is the index's
        kth, after = values[:, k - 1], values[:, k]
        tied = ((kth == after) | (kth.isnan() & after.isnan())).nonzero().squeeze(1)
        if len(tied):
            at[tied, :k] = _keys(distances[tied], indices[tied]).topk(
                k, dim=1, largest=False).indices
            values[tied, :k] = distances[tied].gather(1, at[tied, :k])
    at = at[:, :k]
    order = _keys(values[:, :k], indices.gather(1, at)).argsort(dim=1)  # ties inside, too
    return at.gather(1, order)


def _keys(distances: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """One int64 for each distance and training index, ordered as (distance, index) are: the
    bits of a distance, never negative, order it as an integer's do (a NaN's, made one and
    the same, after infinity's), and the index in the low bits makes every key distinct."""
    canonical = torch.where(distances.isnan(), torch.nan, distances).abs()
    return (canonical.view(torch.int32).long() << 32) | indices


def squared_distances(codes: torch.Tensor, columns: torch.Tensor,
                      positions: torch.Tensor | None = None) -> torch.Tensor:
    """Squared Euclidean distances of codes (b, d) to the codes whose coordinates are the rows
    of ``columns`` (d, N): (b, N); or, with ``positions`` (b, n), to the codes at those
    positions of ``columns``: (b, n). Each is summed from the coordinates' differences, one
    correctly rounded operation after another in the same order whatever the batch: exact,
    and so the same votes however the codes are batched or chosen (from squared norms and a
    matrix product, the rounding depends on the batch's size, and it decided near ties)."""
    def column(j: int) -> torch.Tensor:
        return columns[j] if positions is None else columns[j][positions]

    difference = codes[:, :1] - column(0)  # (b, N) or (b, n)
    total = difference.square()
    for j in range(1, len(columns)):
        torch.sub(codes[:, j:j + 1], column(j), out=difference)
        total.add_(difference.square_())
    return total
