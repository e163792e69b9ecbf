"""Batch order that depends only on (seed, epoch): resumable, and equal across world sizes.

The epoch's permutation is cut into *global* batches (per-process batch x processes); with
length grouping, each block of 50 global batches is sorted by length first, and the order of
global batches is shuffled. Each process takes its slice of every global batch, so 2 processes
with batch 8 see exactly the examples of 1 process with batch 16.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

MEGABATCH = 50  # global batches sorted together by length (as HF's LengthGroupedSampler)


class EpochBatchSampler:
    """Yields this process's index lists; `start_batch` skips batches already consumed."""

    def __init__(self, lengths: list[int], batch_size: int, num_processes: int = 1,
                 process_index: int = 0, seed: int = 0, group_by_length: bool = True,
                 shuffle: bool = True):
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.num_processes = num_processes
        self.process_index = process_index
        self.seed = seed
        self.group_by_length = group_by_length
        self.shuffle = shuffle
        self.epoch = 0
        self.start_batch = 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch = epoch
        self.start_batch = start_batch

    def global_batches(self) -> list[np.ndarray]:
        rng = np.random.default_rng([self.seed, self.epoch])
        n = len(self.lengths)
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        size = self.batch_size * self.num_processes
        if self.group_by_length:
            blocks = [order[i: i + size * MEGABATCH] for i in range(0, n, size * MEGABATCH)]
            order = np.concatenate([b[np.argsort(-self.lengths[b], kind="stable")] for b in blocks])
        batches = [order[i: i + size] for i in range(0, n, size)]
        if self.shuffle and self.group_by_length:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def _local(self, batch: np.ndarray) -> list[int]:
        if len(batch) < self.num_processes:  # a tiny tail: repeat so every rank has a batch
            batch = np.resize(batch, self.num_processes)
        return np.array_split(batch, self.num_processes)[self.process_index].tolist()

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.global_batches()[self.start_batch:]:
            yield self._local(batch)

    def __len__(self) -> int:
        return -(-len(self.lengths) // (self.batch_size * self.num_processes)) - self.start_batch
