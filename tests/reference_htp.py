"""Hierarchical Token Prepending written out naively (docs/methods-2026.md, HTP), for checking
the fast path: one text at a time, the marker rows written into the token list by hand, the
decoder layers run one by one with the copies done before each layer in a Python loop
(``reference.layers_by_hand``, as for TP), full attention tensors for ReBA's read-outs.
Nothing here is shared with the library.
"""

from __future__ import annotations

import copy
import re

import reference as R
import torch

MARK = "<PST>"


def naive_sentences(text):
    """Character spans of the (simple) test texts' sentences: runs ending in . ! ? 。 ！ ？"""
    return [
        (m.start() + len(m.group()) - len(m.group().lstrip()), m.end())
        for m in re.finditer(r"[^.!?。！？]+[.!?。！？]*", text)
        if m.group().strip()
    ]


def marked_template(template):
    """The <B-PST> place: before the quote opening the text (TP's place), else before the text."""
    if ' "{text}"' in template:
        return template.replace(' "{text}"', f' {MARK} "{{text}}"', 1)
    return template.replace("{text}", MARK + "{text}", 1)


def template_input(tokenizer, template, text, whole):
    """Token ids with one <PST> id at the <B-PST> place, the position of that id, and the
    positions and text-relative character offsets of the text's tokens."""
    tok = copy.deepcopy(tokenizer)
    tok.add_tokens([MARK])
    mark = tok.convert_tokens_to_ids(MARK)
    before, after = marked_template(template).split("{text}")
    if whole:
        enc = tok(before + text + after, add_special_tokens=True, return_offsets_mapping=True)
        ids, offsets = enc["input_ids"], enc["offset_mapping"]
        a = len(before)
        inside = [i for i, (s, e) in enumerate(offsets) if e > s and s < a + len(text) and e > a]
        slot = list(range(inside[0], inside[-1] + 1))  # with zero-width tokens between
        rel = [(offsets[i][0] - a, offsets[i][1] - a) for i in slot]
        return ids, ids.index(mark), slot, rel
    ids = list(R.special_prefix(tokenizer))
    for piece in before.split(MARK)[0], MARK, before.split(MARK)[1]:
        ids += [mark] if piece == MARK else (tok(piece, add_special_tokens=False)["input_ids"])
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    slot = list(range(len(ids), len(ids) + len(enc["input_ids"])))
    ids += enc["input_ids"] + (tok(after, add_special_tokens=False)["input_ids"] if after else [])
    return ids, ids.index(mark), slot, list(enc["offset_mapping"])


def htp_input(tokenizer, template, text, whole=True, begin=True):
    """ids (markers as token 0), text positions, sentence markers, begin markers, sources."""
    ids, mark, slot, offsets = template_input(tokenizer, template, text, whole)
    firsts, lasts = [], []
    for a, b in naive_sentences(text):
        own = [j for j, (s, e) in enumerate(offsets) if e > s and e > a and s < b]
        firsts.append(slot[own[0]])
        lasts.append(slot[own[-1]])
    firsts[0] = slot[0]
    assert len(set(firsts)) == len(firsts), "test texts keep sentences in separate tokens"
    out, text_at, sentence_markers, begin_markers, position_of = [], [], [], [], {}
    for i, token in enumerate(ids):
        if i == mark:
            if begin:
                begin_markers = list(range(len(out), len(out) + len(firsts)))
                out += [0] * len(firsts)
            continue
        if i in firsts:
            sentence_markers.append(len(out))
            out.append(0)
        position_of[i] = len(out)
        out.append(token)
    text_at = [position_of[i] for i in slot]
    sources = [position_of[i] for i in lasts]
    return out, text_at, sentence_markers, begin_markers, sources


def mean_row(model):
    """The mean of every vocabulary id's embedded input row (Gemma's scaling included, as the
    embedding module applies it): a resized vocabulary's new row under mean resizing."""
    embedding = model.get_input_embeddings()
    ids = torch.arange(embedding.weight.shape[0]).unsqueeze(0)
    return embedding(ids)[0].double().mean(0).float()


def htp(
    model, tokenizer, template, text, readout, layer, whole=True, begin=True, seed=0, init="mean"
):
    """The HTP vector of ``text`` in ``template`` (default layers: 1 to 7 of 32, scaled)."""
    start, end = 1, max(2, R.scaled(model, 7))
    ids, text_at, sentence_markers, begin_markers, sources = htp_input(
        tokenizer, template, text, whole, begin
    )
    if init == "mean":
        rows = {p: mean_row(model) for p in [*sentence_markers, *begin_markers]}
    else:
        rows = {p: R.pst_row(model, seed) for p in sentence_markers}
        rows.update({p: R.pst_row(model, seed + 1) for p in begin_markers})
    copies = list(zip(sentence_markers, sources)) + list(zip(begin_markers, sources))
    states, S = R.layers_by_hand(model, ids, rows, copies, start, end, readout.startswith("reba"))
    H = states[layer][0].double()
    N = len(ids)
    if readout == "mean":
        return H[text_at].mean(0)
    if readout == "last":
        return H[N - 1]
    w = sum(torch.triu(S)[i] for i in text_at) if readout == "reba" else S[N - 1].clone()
    w[sentence_markers + begin_markers] = 0
    return R.weighted(H, w)
