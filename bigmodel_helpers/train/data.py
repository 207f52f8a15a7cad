"""Batches for the training loop: which samples each process sees at each step, and how they are loaded.

The trainer owns the order of the data instead of handing ``shuffle=True`` to a DataLoader: the indices
of step ``s`` are a pure function of ``(seed, s)``, so a run restarted from a checkpoint at step ``s``
sees exactly the batches the uninterrupted run would have seen, even mid-epoch.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch.utils.data import DataLoader, TensorDataset, default_collate


class StepSampler:
    """Dataset indices per optimizer step, for one process of ``world_size``.

    Each epoch is a fresh permutation of ``range(n)`` drawn from ``(seed, epoch)``. Step ``s`` takes the
    next ``global_batch = micro_batch * grad_accum * world_size`` indices of it and cuts them into
    ``grad_accum`` micro-batches per process: the union over processes and micro-batches is the same
    whatever the split, which is why 2 processes x batch 4 equal 1 process x batch 8.
    """

    def __init__(self, n: int, micro_batch: int, grad_accum: int, world_size: int, rank: int, seed: int,
                 drop_last: bool):
        self.n, self.micro_batch, self.grad_accum = n, micro_batch, grad_accum
        self.world_size, self.rank, self.seed = world_size, rank, seed
        self.global_batch = micro_batch * grad_accum * world_size
        if n == 0:
            raise ValueError("train_dataset is empty: give the Trainer a dataset with at least one sample.")
        if drop_last and self.global_batch > n:
            raise ValueError(
                f"One step needs batch_size x grad_accum x processes = {micro_batch} x {grad_accum} x "
                f"{world_size} = {self.global_batch} samples but the dataset has only {n}, and "
                "drop_last=True would leave no batch at all: lower batch_size (or grad_accum), or set "
                "drop_last=False.")
        self.steps_per_epoch = n // self.global_batch if drop_last else -(-n // self.global_batch)
        self._epoch, self._order = None, None

    def state(self) -> dict:
        return {"n": self.n, "global_batch": self.global_batch, "seed": self.seed}

    def micro_batches(self, step: int) -> list[torch.Tensor]:
        """``grad_accum`` index tensors of shape (micro_batch,): this process's share of step ``step``."""
        epoch, position = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._epoch, self._order = epoch, torch.randperm(self.n, generator=generator)
        start = position * self.global_batch
        indices = self._order[start:start + self.global_batch]
        while len(indices) < self.global_batch:   # drop_last=False: top the last step up from the start
            indices = torch.cat([indices, self._order[:self.global_batch - len(indices)]])
        if self.grad_accum == self.world_size == 1:
            return [indices]
        return list(indices.view(self.grad_accum, self.world_size, self.micro_batch)[:, self.rank])


def batch_loader(dataset, collate_fn):
    """A function ``indices (LongTensor) -> batch`` that loads in this process."""
    if isinstance(dataset, TensorDataset) and collate_fn is None:
        # Fast path: one tensor gather per batch instead of len(batch) __getitem__ calls and a collate.
        return lambda indices: tuple(t[indices] for t in dataset.tensors)
    collate = collate_fn or default_collate
    return lambda indices: collate([dataset[i] for i in indices.tolist()])


def batch_stream(dataset, sampler: StepSampler, first_step: int, last_step: int, collate_fn, num_workers: int,
                 pin_memory: bool):
    """Yield ``(step, [micro_batch, ...])`` for steps ``first_step .. last_step - 1``; with ``num_workers``
    > 0 a DataLoader prepares the batches in worker processes, in the same order."""
    if num_workers == 0:
        load = batch_loader(dataset, collate_fn)
        for step in range(first_step, last_step):
            yield step, [load(ids) for ids in sampler.micro_batches(step)]
        return
    index_lists = (ids.tolist() for step in range(first_step, last_step)
                   for ids in sampler.micro_batches(step))
    loader = iter(DataLoader(dataset, batch_sampler=index_lists, collate_fn=collate_fn or default_collate,
                             num_workers=num_workers, pin_memory=pin_memory))
    for step in range(first_step, last_step):
        yield step, [next(loader) for _ in range(sampler.grad_accum)]


def to_device(batch, device: torch.device):
    """Move every tensor in a (nested) tuple / list / dict batch to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {key: to_device(value, device) for key, value in batch.items()}
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(value, device) for value in batch)
    return batch


def count_items(batch) -> tuple[int, str]:
    """``(count, unit)`` used for throughput: tokens when the batch carries token ids, else samples.

    Tokens: ``input_ids.numel()`` of a dict batch, or ``targets.numel()`` of an ``(inputs, targets)``
    batch whose targets are integers of shape (B, T) (language modelling). Anything else counts samples
    (the first dimension of the first tensor).
    """
    if isinstance(batch, (tuple, list)):
        targets = batch[-1] if len(batch) >= 2 else None
        if isinstance(targets, torch.Tensor) and targets.dim() >= 2 and not targets.is_floating_point():
            return targets.numel(), "tokens"
        first = batch[0]
    elif isinstance(batch, Mapping):
        if isinstance(batch.get("input_ids"), torch.Tensor):
            return batch["input_ids"].numel(), "tokens"
        first = next((v for v in batch.values() if isinstance(v, torch.Tensor)), None)
    else:
        first = batch
    return (len(first) if isinstance(first, torch.Tensor) and first.dim() > 0 else 1), "samples"
