r"""Constrained decoding: a finite-state machine masks the logits so only valid tokens can be picked.

A format (a JSON object with an enum field and a number, a date, a tool call) is a regular
language: a deterministic finite automaton (DFA) over characters accepts exactly the valid
strings. Tokens are multi-character strings, so the DFA is lifted to tokens by walking each
token's characters from every state (Willard and Louf 2023's index). At each decoding step
the row's state gives the allowed tokens; the others get logit :math:`-\infty`, so neither
argmax nor sampling can pick them. A distance-to-accept table also removes tokens that could
not finish within the remaining budget, so *every* output is a complete valid string.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..transformer._checks import check_int, check_tensor
from ..transformer.generate import sample_next

__all__ = ["Repeat", "CharDFA", "TokenFSM", "constrained_generate"]


@dataclass(frozen=True)
class Repeat:
    """A part of a :class:`CharDFA`: between ``lo`` and ``hi`` characters, each from ``chars``."""

    chars: str
    lo: int
    hi: int

    def __post_init__(self) -> None:
        if not isinstance(self.chars, str) or not self.chars:
            raise TypeError(f"chars must be a non-empty str of allowed characters; got {self.chars!r}.")
        check_int(self.lo, "lo")
        check_int(self.hi, "hi", low=max(self.lo, 1))


class CharDFA:
    r"""A DFA over characters: the concatenation of literal strings, choices and bounded repeats.

    Parameters
    ----------
    parts : sequence
        Each part is a ``str`` (a literal), a ``tuple``/``list`` of non-empty, prefix-free
        strings (one of them, e.g. an enum), or a :class:`Repeat`. A part's first characters
        must not also continue the part before it (the machine must stay deterministic).

    Attributes
    ----------
    transitions : list of dict
        ``transitions[s][c]`` is the next state; a missing key is the dead state.
    accepting : frozenset of int
        Final states. The start state is 0.

    Notes
    -----
    Bounded repeats keep the automaton acyclic, so every accepted string is at most
    ``max_length`` characters long. See question q11-06.

    Examples
    --------
    >>> dfa = CharDFA(['{"n":', Repeat("123456789", 1, 1), Repeat("0123456789", 0, 2), "}"])
    >>> dfa.accepts('{"n":42}'), dfa.accepts('{"n":042}'), dfa.accepts('{"n":4242}')
    (True, False, False)
    """

    def __init__(self, parts: Sequence[Any]) -> None:
        if isinstance(parts, (str, bytes)) or not isinstance(parts, Sequence) or len(parts) == 0:
            raise TypeError(f"parts must be a non-empty list of parts (str, tuple of str, Repeat); got {parts!r:.60}.")
        self.transitions: list[dict[str, int]] = [{}]
        frontier = {0}
        for i, part in enumerate(parts):
            frontier = self._add(part, frontier, f"parts[{i}]")
        self.accepting = frozenset(frontier)
        self.max_length = self._longest()

    def _new(self) -> int:
        self.transitions.append({})
        return len(self.transitions) - 1

    def _link(self, frontier: set[int], c: str, target: int, where: str) -> None:
        for f in frontier:
            if self.transitions[f].get(c, target) != target:
                raise ValueError(f"{where} starts with {c!r}, which also continues the previous part; not deterministic.")
            self.transitions[f][c] = target

    def _add(self, part: Any, frontier: set[int], where: str) -> set[int]:
        if isinstance(part, Repeat):
            states, new_frontier = [], set(frontier) if part.lo == 0 else set()
            for j in range(part.hi):
                s = self._new()
                for c in part.chars:
                    self._link(frontier if j == 0 else {states[-1]}, c, s, where)
                states.append(s)
                if j + 1 >= part.lo:
                    new_frontier.add(s)
            return new_frontier
        if isinstance(part, str):
            part = (part,)
        if not isinstance(part, (tuple, list)) or not part or not all(isinstance(p, str) and p for p in part):
            raise TypeError(f"{where} must be a non-empty str, a tuple of non-empty str, or a Repeat; got {part!r:.60}.")
        for a in part:
            for b in part:
                if a != b and b.startswith(a):
                    raise ValueError(f"{where} must be prefix-free; {a!r} is a prefix of {b!r}.")
        end = self._new()
        mine = {end}
        for word in part:  # a trie whose leaves all merge into `end`
            cur = set(frontier)
            for j, c in enumerate(word):
                if j == len(word) - 1:
                    nxt = end
                else:
                    existing = {self.transitions[f].get(c) for f in cur} & mine
                    nxt = existing.pop() if existing else self._new()
                    mine.add(nxt)
                self._link(cur, c, nxt, where)
                cur = {nxt}
        return {end}

    def _longest(self) -> int:
        memo: dict[int, int] = {}

        def longest(s: int) -> int:  # the automaton is acyclic, so this recursion ends
            if s not in memo:
                best = 0 if s in self.accepting else -(10**9)
                memo[s] = max([best] + [1 + longest(t) for t in self.transitions[s].values()])
            return memo[s]

        return longest(0)

    def step(self, state: int, text: str) -> int:
        """State after reading ``text`` from ``state``; -1 if the automaton dies."""
        for c in text:
            state = self.transitions[state].get(c, -1)
            if state < 0:
                return -1
        return state

    def accepts(self, text: str) -> bool:
        """Whether the whole of ``text`` is in the language."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str; got {type(text).__name__}.")
        return self.step(0, text) in self.accepting


class TokenFSM:
    r"""A :class:`CharDFA` lifted to a token vocabulary: allowed-token masks and state updates.

    Parameters
    ----------
    dfa : CharDFA
        The language.
    vocab : sequence of str
        ``vocab[i]`` is the text of token ``i``; the entry at ``eos_token_id`` is ignored.
    eos_token_id : int
        End-of-sequence token, allowed exactly in accepting states.

    Attributes
    ----------
    table : torch.Tensor, shape (S, V), long
        Next state after each token from each state; -1 = forbidden.
    dist : torch.Tensor, shape (S,), long
        Fewest tokens from each state to an accepting state (large = unreachable).

    Raises
    ------
    ValueError
        If some reachable state is a dead end for this vocabulary (no token continues it and it
        does not accept), so generation could get stuck.

    Notes
    -----
    The table costs :math:`O(S \cdot \sum_i |v_i|)` to build once; real libraries do the same per
    grammar and cache it. See question q11-06.

    Examples
    --------
    >>> fsm = TokenFSM(CharDFA(["a", ("bc", "d")]), ["a", "b", "c", "d", "bc", "<eos>"], eos_token_id=5)
    >>> fsm.allowed(torch.tensor([0, 1])).int()
    tensor([[1, 0, 0, 0, 0, 0],
            [0, 1, 0, 1, 1, 0]], dtype=torch.int32)
    """

    def __init__(self, dfa: CharDFA, vocab: Sequence[str], *, eos_token_id: int) -> None:
        if not isinstance(dfa, CharDFA):
            raise TypeError(f"dfa must be a CharDFA; got {type(dfa).__name__}.")
        if isinstance(vocab, (str, bytes)) or not isinstance(vocab, Sequence) or not all(isinstance(v, str) for v in vocab):
            raise TypeError("vocab must be a list of token strings.")
        eos = check_int(eos_token_id, "eos_token_id")
        if eos >= len(vocab):
            raise ValueError(f"eos_token_id must be < len(vocab) = {len(vocab)}; got {eos}.")
        n_states, n_vocab = len(dfa.transitions), len(vocab)
        table = np.full((n_states, n_vocab), -1, dtype=np.int64)  # (S, V)
        for s in range(n_states):
            for i, text in enumerate(vocab):
                if i != eos and text:
                    table[s, i] = dfa.step(s, text)
        accept = np.zeros(n_states, dtype=bool)
        accept[list(dfa.accepting)] = True
        big = n_states + 1
        dist = np.where(accept, 0, big)  # (S,)
        for _ in range(n_states):  # Bellman-Ford with unit weights
            via = np.where(table >= 0, dist[np.maximum(table, 0)] + 1, big).min(axis=1)  # (S,)
            dist = np.minimum(dist, via)
        reach, todo = {0}, [0]
        while todo:
            s = todo.pop()
            for t in set(table[s][table[s] >= 0].tolist()) - reach:
                reach.add(t)
                todo.append(t)
        stuck = sorted(s for s in reach if dist[s] >= big)
        if stuck:
            raise ValueError(f"vocab cannot complete the language from reachable states {stuck[:5]}; add tokens.")
        self.dfa, self.eos_token_id, self.vocab = dfa, eos, list(vocab)
        self.table = torch.from_numpy(table)
        self.accepting = torch.from_numpy(accept)
        self.dist = torch.from_numpy(dist)

    def allowed(self, states: torch.Tensor, remaining: int | None = None) -> torch.Tensor:
        """Allowed next tokens per row, shape (B, V); with ``remaining`` (tokens left, this one
        included), only tokens that can still reach acceptance in time."""
        nxt = self.table[states]  # (B, V)
        ok = nxt >= 0  # (B, V)
        if remaining is not None:
            ok &= self.dist[nxt.clamp(min=0)] <= remaining - 1
        ok[:, self.eos_token_id] = self.accepting[states]
        return ok

    def advance(self, states: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Next states (B,) after ``tokens`` (B,); EOS keeps the state."""
        nxt = self.table[states, tokens]  # (B,)
        return torch.where(tokens == self.eos_token_id, states, nxt)

    def accepts_tokens(self, tokens: Sequence[int]) -> bool:
        """Whether ``tokens`` (up to the first EOS, or all of them) spell an accepted string."""
        state = 0
        for t in tokens:
            if t == self.eos_token_id:
                break
            state = int(self.table[state, t])
            if state < 0:
                return False
        return bool(self.accepting[state])


def constrained_generate(
    model: nn.Module,
    idx: torch.Tensor,
    fsm: TokenFSM,
    max_new_tokens: int,
    *,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    rng: torch.Generator | int | None = None,
) -> torch.Tensor:
    r"""Like :func:`~interviewlib.transformer.generate.generate`, with the logits masked by ``fsm``.

    Parameters
    ----------
    model : DecoderLM
        Anything with ``config.max_len``, ``new_cache()`` and ``forward(idx, cache=...)``.
    idx : torch.Tensor, shape (B, T), long
        Prompts; the constrained text starts right after them.
    fsm : TokenFSM
        The format; its vocabulary must match the model's.
    max_new_tokens : int
        Budget; must be at least ``fsm.dist[0]`` (the shortest valid output).
    do_sample, temperature, top_k, top_p, rng
        As in :func:`~interviewlib.transformer.generate.sample_next`; the mask is applied first.

    Returns
    -------
    torch.Tensor, shape (B, T + n)
        Every row's new tokens spell an accepted string, followed by EOS (padding) if it ended early.

    Notes
    -----
    Masking then renormalising is not sampling from the model's distribution conditioned on
    validity: a token that is allowed now but leads to improbable continuations keeps its full
    local probability. See question q11-06.

    Examples
    --------
    >>> from interviewlib.transformer import DecoderConfig, DecoderLM
    >>> _ = torch.manual_seed(0)
    >>> vocab = ["a", "b", "<eos>"]
    >>> fsm = TokenFSM(CharDFA(["ab", Repeat("a", 0, 2)]), vocab, eos_token_id=2)
    >>> lm = DecoderLM(DecoderConfig(vocab_size=3, d_model=16, n_layers=1, n_heads=2, max_len=8))
    >>> out = constrained_generate(lm, torch.tensor([[2], [2]]), fsm, 5, do_sample=True, rng=1)
    >>> all(fsm.accepts_tokens(row[1:].tolist()) for row in out)
    True
    """
    if not isinstance(model, nn.Module) or not hasattr(model, "config") or not hasattr(model, "new_cache"):
        raise TypeError(f"model must be a DecoderLM-like nn.Module with config and new_cache; got {type(model).__name__}.")
    check_tensor(idx, "idx", ndim=2, layout="(B, T)", floating=False)
    if idx.is_floating_point() or idx.dtype == torch.bool or idx.shape[1] == 0:
        raise ValueError(f"idx must hold integer token ids with T >= 1; got dtype {idx.dtype}, shape {tuple(idx.shape)}.")
    if not isinstance(fsm, TokenFSM):
        raise TypeError(f"fsm must be a TokenFSM; got {type(fsm).__name__}.")
    if len(fsm.vocab) != model.config.vocab_size:
        raise ValueError(f"fsm vocabulary ({len(fsm.vocab)}) must match the model's vocab_size {model.config.vocab_size}.")
    max_new_tokens = check_int(max_new_tokens, "max_new_tokens")
    if int(fsm.dist[0]) > max_new_tokens:
        raise ValueError(f"max_new_tokens must be >= {int(fsm.dist[0])}, the shortest valid output; got {max_new_tokens}.")
    if idx.shape[1] + max_new_tokens > model.config.max_len:
        raise ValueError(f"prompt + max_new_tokens = {idx.shape[1] + max_new_tokens} exceeds max_len={model.config.max_len}.")
    if isinstance(rng, int) and not isinstance(rng, bool):
        rng = torch.Generator().manual_seed(rng)
    elif rng is not None and not isinstance(rng, torch.Generator):
        raise TypeError(f"rng must be a torch.Generator, an int seed or None; got {type(rng).__name__}.")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return _constrained_core(model, idx, fsm, max_new_tokens, do_sample, temperature, top_k, top_p, rng)
    finally:
        model.train(was_training)


def _constrained_core(model, idx, fsm, max_new_tokens, do_sample, temperature, top_k, top_p, rng):
    out, eos = idx, fsm.eos_token_id
    cache = model.new_cache(idx.shape[1] + max_new_tokens)
    states = torch.zeros(idx.shape[0], dtype=torch.long)  # (B,)
    finished = torch.zeros(idx.shape[0], dtype=torch.bool)  # (B,)
    feed = idx
    for step in range(max_new_tokens):
        logits = model(feed, cache=cache)[:, -1]  # (B, V)
        ok = fsm.allowed(states, remaining=max_new_tokens - step)  # (B, V)
        masked = logits.masked_fill(~ok, float("-inf"))  # (B, V)
        nxt = sample_next(
            masked, do_sample=do_sample, temperature=temperature, top_k=top_k, top_p=top_p, generator=rng
        )  # (B,)
        nxt = torch.where(finished, torch.full_like(nxt, eos), nxt)
        states = torch.where(finished, states, fsm.advance(states, nxt))
        finished |= nxt == eos
        out = torch.cat([out, nxt[:, None]], dim=1)  # (B, T + 1)
        feed = nxt[:, None]
        if bool(finished.all()):
            break
    return out
