"""A naive, obviously-correct implementation of the spec, for checking the fast path.

One text at a time, the model's full attention tensors (L x H x N x N), the formulas of
docs/method.md written out literally. Nothing here is shared with the library.
"""

from __future__ import annotations

import copy
import re

import torch


def special_prefix(tokenizer) -> list[int]:
    bare = tokenizer("x y", add_special_tokens=False)["input_ids"]
    full = tokenizer("x y", add_special_tokens=True)["input_ids"]
    return full[: full.index(bare[0])] if bare[0] in full else []


def build_input(tokenizer, text, k, max_length=None):
    """z = P + x*k, truncating x first; returns z, p, n."""
    P = special_prefix(tokenizer)
    x = tokenizer(text, add_special_tokens=False)["input_ids"]
    if max_length is not None:
        x = x[: (max_length - len(P)) // k]
    return P + x * k, len(P), len(x)


def word_tokens(tokenizer, text, span):
    """Indices i of the text's tokens whose character offsets overlap [a, b)."""
    a, b = span
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)[
        "offset_mapping"
    ]
    return [i for i, (s, e) in enumerate(offsets) if e > s and s < b and e > a]


@torch.no_grad()
def run(model, z, layer=-1, attention=True):
    """Hidden states H (N x d) of ``layer`` and S = max_{l,h} (X + X^T) / 2 (N x N).

    The spec runs methods that need attention with eager attention and the others with the
    model's fused kernel; H comes from the same kernel here, so that differences measure the
    formulas, not float32 rounding of two kernels (which reaches 1e-5 at real activations).
    """
    previous = model.config._attn_implementation
    model.set_attn_implementation("eager" if attention else "sdpa")
    try:
        out = model(
            input_ids=torch.tensor([z]), output_attentions=attention, output_hidden_states=True
        )
    finally:
        model.set_attn_implementation(previous)
    H = out.hidden_states[layer][0].double()
    if not attention:
        return H, None
    X = torch.stack(out.attentions)[:, 0].double()  # L x H x N x N
    S = ((X + X.transpose(-1, -2)) / 2).amax(dim=(0, 1))
    return H, S


def weighted(H, w):
    return (w[:, None] * H).sum(0) / w.sum()


def sentence(model, tokenizer, text, method, k=1, layer=-1, include_prefix=False, max_length=None):
    if method == "prompteol":  # the whole prompt string, tokenized as its authors do
        return prompted(model, tokenizer, PROMPTEOL_T, text, "last", layer)
    z, p, n = build_input(tokenizer, text, k, max_length=max_length)
    N = len(z)
    H, S = run(model, z, layer, attention=method.startswith("reba"))
    if method == "mean":
        return H[p : p + n].mean(0)
    if method in ("last", "echo-last"):
        return H[N - 1]
    if method == "echo":
        return H[p + (k - 1) * n : p + k * n].mean(0)
    if method == "reba":
        U = torch.triu(S)
        rows = list(range(0, p + n)) if include_prefix else list(range(p, p + n))
        return weighted(H, sum(U[i] for i in rows))
    if method == "reba-last":
        return weighted(H, S[N - 1])
    raise ValueError(method)


def word(model, tokenizer, text, span, method, k=1, layer=-1):
    z, p, n = build_input(tokenizer, text, k)
    H, S = run(model, z, layer, attention=method == "reba")
    I = word_tokens(tokenizer, text, span)
    if method == "mean":
        return H[[p + i for i in I]].mean(0)
    if method == "echo":
        return H[[p + (k - 1) * n + i for i in I]].mean(0)
    if method == "reba":
        U = torch.triu(S)
        return weighted(H, sum(U[p + i] for i in I))
    raise ValueError(method)


# --- prompt methods, Token Prepending, Contrastive Prompting (training-free-methods.md) -------


def prompt_input(tokenizer, template, text, whole=True, pst=False):
    """Token ids of ``template`` with ``text`` in its slots, and each slot's text positions.

    Whole: the prompt string tokenized as one, with special tokens, as the PromptEOL family's
    authors do; a token belongs to the text when its character span overlaps the text's. With
    ``pst`` the authors' way: '<PST>' added to (a copy of) the tokenizer and written into the
    prompt before the opening quote. Pieces: BOS, then template pieces and text tokenized apart.
    """
    if pst:
        tokenizer = copy.deepcopy(tokenizer)
        tokenizer.add_tokens(["<PST>"])
        template = template.replace(' "{text}"', ' <PST> "{text}"', 1)
    pieces = template.split("{text}")
    if whole:
        prompt, starts = pieces[0], []
        for piece in pieces[1:]:
            starts.append(len(prompt))
            prompt += text + piece
        enc = tokenizer(prompt, add_special_tokens=True, return_offsets_mapping=True)
        ids, offsets = enc["input_ids"], enc["offset_mapping"]
        slots = [
            [i for i, (s, e) in enumerate(offsets) if e > s and s < a + len(text) and e > a]
            for a in starts
        ]
        where = ids.index(tokenizer.convert_tokens_to_ids("<PST>")) if pst else None
        return ids, slots, starts, offsets, where
    ids, slots = list(special_prefix(tokenizer)), []
    x = tokenizer(text, add_special_tokens=False)["input_ids"]
    for i, piece in enumerate(pieces):
        if i:
            slots.append(list(range(len(ids), len(ids) + len(x))))
            ids += x
        ids += tokenizer(piece, add_special_tokens=False)["input_ids"] if piece else []
    return ids, slots, None, None, None


def readout(H, S, slots, method_readout, word_rows=None):
    """The read-outs of the spec over a prompt: mean of the last slot, last token, ReBA's mean
    form over slot 1's rows, ReBA's last-token form."""
    N = H.shape[0]
    if method_readout == "mean":
        return H[slots[-1] if word_rows is None else word_rows[-1]].mean(0)
    if method_readout == "last":
        return H[N - 1]
    if method_readout == "reba":
        U = torch.triu(S)
        rows = slots[0] if word_rows is None else word_rows[0]
        return weighted(H, sum(U[i] for i in rows))
    if method_readout == "reba-last":
        return weighted(H, S[N - 1])
    raise ValueError(method_readout)


def prompted(model, tokenizer, template, text, method_readout, layer, whole=True):
    ids, slots, *_ = prompt_input(tokenizer, template, text, whole)
    H, S = run(model, ids, layer, attention=method_readout.startswith("reba"))
    return readout(H, S, slots, method_readout)


def prompted_word(model, tokenizer, template, text, span, method_readout, layer):
    ids, slots, starts, offsets, _ = prompt_input(tokenizer, template, text)
    rows = [
        [i for i, (s, e) in enumerate(offsets) if e > s and s < a + span[1] and e > a + span[0]]
        for a in starts
    ]
    H, S = run(model, ids, layer, attention=method_readout == "reba")
    return readout(H, S, slots, method_readout, word_rows=rows)


def averaged(vectors):
    """MetaEOL and CK: the plain mean of separately computed vectors."""
    return torch.stack(list(vectors)).mean(0)


def _family(model):
    return type(model).__name__.replace("TextModel", "Model").removesuffix("Model").lower()


def pst_row(model, seed):
    """<PST>'s input row: standard normal from ``seed``, times Gemma's embedding scale."""
    d = model.config.hidden_size
    v = torch.randn(d, generator=torch.Generator().manual_seed(seed))
    return v * d**0.5 if _family(model) == "gemma3" else v


@torch.no_grad()
def token_prepending(model, tokenizer, template, text, layer, start, end, seed=0, attention=False):
    """TP by hand: decoder layers run one by one; before layer i in [start, end) the state at
    <PST> is overwritten with the last token's. Returns H of ``layer`` and S (or None), and
    the text slots."""
    ids, slots, *_, where = prompt_input(tokenizer, template, text, pst=True)
    rows = {where: pst_row(model, seed)}
    states, S = layers_by_hand(model, ids, rows, [(where, len(ids) - 1)], start, end, attention)
    return states[layer][0].double(), S, slots


@torch.no_grad()
def layers_by_hand(model, ids, rows, copies, start, end, attention=False):
    """Every hidden state (list) of ``ids`` with input rows ``rows`` ({position: vector})
    replaced, and before each decoder layer i in [start, end) the state at each target of
    ``copies`` ([(target, source)]) set to the source's (the previous layer's output there);
    and S = max (X + X^T)/2 over layers and heads (or None)."""
    family = _family(model)
    N = len(ids)
    safe = [i if i < model.config.vocab_size else 0 for i in ids]
    embed = model.wte if family == "gpt2" else model.embed_tokens
    h = embed(torch.tensor([safe]))
    for position, vector in rows.items():
        h[0, position] = vector
    pos = torch.arange(N)[None]
    causal = torch.full((N, N), torch.finfo(torch.float32).min).triu(1)[None, None]
    previous = model.config._attn_implementation
    model.set_attn_implementation("eager")
    layers = model.h if family == "gpt2" else model.layers
    attentions = []
    hooks = [
        (block.attn if family == "gpt2" else block.self_attn).register_forward_hook(
            lambda m, args, out: attentions.append(out[1][0])
        )
        for block in layers
    ]
    try:
        if family == "gpt2":
            h = h + model.wpe(pos)
        states = [h]
        for i, block in enumerate(layers):
            if start <= i < end:
                old, h = h, h.clone()
                for target, source in copies:
                    h[0, target] = old[0, source]
            h = _call_layer(model, family, block, i, h, pos, causal)
            states.append(h)
        states[-1] = (model.ln_f if family == "gpt2" else model.norm)(h)
    finally:
        for hook in hooks:
            hook.remove()
        model.set_attn_implementation(previous)
    if not attention:
        return states, None
    X = torch.stack(attentions).double()  # L x H x N x N
    return states, ((X + X.transpose(-1, -2)) / 2).amax(dim=(0, 1))


def _call_layer(model, family, block, i, h, pos, causal):
    if family == "gpt2":
        return block(h, None, causal)
    if family == "gemma3":
        kind = model.config.layer_types[i]
        mask = causal
        if kind == "sliding_attention":
            q, k = torch.arange(h.shape[1])[:, None], torch.arange(h.shape[1])[None, :]
            far = q - k >= model.config.sliding_window
            mask = causal.masked_fill(far, torch.finfo(torch.float32).min)
        pe = model.rotary_emb(h, pos, kind)
        return block(h, attention_mask=mask, position_embeddings=pe, position_ids=pos)
    pe = model.rotary_emb(h, position_ids=pos)
    return block(h, attention_mask=causal, position_embeddings=pe, position_ids=pos)


def output_projection(model, layer):
    """The attention output projection, by its name in each tested family."""
    if _family(model) == "gpt2":
        return model.h[layer].attn.c_proj
    return model.layers[layer].self_attn.o_proj


@torch.no_grad()
def contrastive_prompting(
    model, tokenizer, template, text, layer, l, alpha, mode="ns", auxiliary=None, attention=False
):
    """CP by two explicit passes: the auxiliary prompt's projection input b at layer l (last
    position), then the main prompt with a = that input replaced. Returns H, S, slots."""
    auxiliary = (
        auxiliary or 'The irrelevant information of this sentence : "{text}" means in one word:"'
    )
    aux_ids, *_ = prompt_input(tokenizer, auxiliary, text)
    ids, slots, *_ = prompt_input(tokenizer, template, text)
    seen = {}
    projection = output_projection(model, l)

    def grab(module, args):
        seen["b"] = args[0][0, -1].clone()

    def replace(module, args):
        x = args[0].clone()
        a, b = x[0, -1].double(), seen["b"].double()
        d = a - b
        x[0, -1] = (alpha * d if mode == "ns" else d * a.norm() / (d.norm() + 1e-7)).float()
        return (x,)

    handle = projection.register_forward_pre_hook(grab)
    try:
        model(input_ids=torch.tensor([aux_ids]))
    finally:
        handle.remove()
    handle = projection.register_forward_pre_hook(replace)
    try:
        H, S = run(model, ids, layer, attention=attention)
    finally:
        handle.remove()
    return H, S, slots


# The templates, verbatim from docs/training-free-methods.md (not imported from reba).
PROMPTEOL_T = 'This sentence : "{text}" means in one word:"'
PCOT_T = 'After thinking step by step , this sentence : "{text}" means in one word:"'
KE_T = (
    "The essence of a sentence is often captured by its main subjects and actions, while "
    "descriptive terms provide additional but less central details. With this in mind , this "
    'sentence : "{text}" means in one word:"'
)
METAEOL_T = [
    "In this task, you're presented with a text excerpt. Your task is to categorize the excerpt into a broad category such as 'Education', 'Technology', 'Health', 'Business', 'Environment', 'Politics', or 'Culture'. These categories help in organizing content for better accessibility and targeting. For this task, this sentence : \"{text}\" should be classified under one general category in one word:\"",  # noqa: E501
    "In this task, you're given a statement and you need to determine whether it's presenting an 'Opinion' or a 'Fact'. This distinction is vital for information verification, educational purposes, and content analysis. For this task, this sentence : \"{text}\" discriminates between opinion and fact in one word:\"",  # noqa: E501
    "In this task, you're given a review from an online platform. Your task is to generate a rating for the product based on the review on a scale of 1-5, where 1 means 'extremely negative' and 5 means 'extremely positive'. For this task, this sentence : \"{text}\" reflects the sentiment in one word:\"",  # noqa: E501
    'In this task, you\'re reading a personal diary entry. Your task is to identify the predominant emotion expressed, such as joy, sadness, anger, fear, or love. For this task, this sentence : "{text}" conveys the emotion in one word:"',  # noqa: E501
    "In this task, you're presented with two sentences. Your task is to assess whether the sentences convey the same meaning. Use 'identical', 'similar', 'different', or 'unrelated' to describe the relationship. To enhance the performance of this task, this sentence : \"{text}\" means in one word:\"",  # noqa: E501
    "In this task, you're given a sentence and a phrase. Your task is to determine if the phrase can be a contextual synonym within the given sentence. Options include 'yes', 'no', or 'partially'. To enhance the performance of this task, this sentence : \"{text}\" means in one word:\"",  # noqa: E501
    'In this task, you\'re examining a news article. Your task is to extract the most critical fact from the article. For this task, this sentence : "{text}" encapsulates the key fact in one word:"',  # noqa: E501
    'In this task, you\'re reviewing a scientific abstract. Your task is to identify the main entities (e.g., proteins, diseases) and their relations (e.g., causes, treats). For this task, this sentence : "{text}" highlights the primary entity or relation in one word:"',  # noqa: E501
]
ECHO_T = "Rewrite the following sentence: {text}\nThe rewritten sentence: {text}"
PROMPTS = {
    "prompteol": [PROMPTEOL_T],
    "pcot": [PCOT_T],
    "ke": [KE_T],
    "ck": [PCOT_T, KE_T],
    "metaeol": METAEOL_T,
}
OWN_LAYER = {"prompteol": -1, "pcot": -2, "ke": -2, "ck": -2, "metaeol": -1}


def scaled(model, layer_of_32):
    return round(layer_of_32 * model.config.num_hidden_layers / 32)


def preset(model, tokenizer, name, text, layer=None):
    """A preset of training-free-methods.md, or ``base[+tp|+cp][+readout]``, written out."""
    base, *rest = name.split("+")
    kind = next((p for p in rest if p in ("tp", "cp")), None)
    reading = next((p for p in rest if p not in ("tp", "cp")), None)
    if base == "echo-prompt":
        return prompted(model, tokenizer, ECHO_T, text, reading or "mean", layer or -1, whole=False)
    readout_ = reading or "last"
    # The papers' read-out layers: TP and CP on PromptEOL read layer 27 of 32 (depth - 5).
    own = -6 if (kind and base == "prompteol") else OWN_LAYER[base]
    layer = own if layer is None else layer
    attention = readout_.startswith("reba")
    vectors = []
    for template in PROMPTS[base]:
        if kind == "tp":
            end = max(2, scaled(model, 7))
            H, S, slots = token_prepending(
                model, tokenizer, template, text, layer, 1, end, 0, attention
            )
        elif kind == "cp":
            l, alpha = (scaled(model, 4), 2.0) if base == "prompteol" else (scaled(model, 6), 3.0)
            H, S, slots = contrastive_prompting(
                model, tokenizer, template, text, layer, l, alpha, attention=attention
            )
        else:
            ids, slots, *_ = prompt_input(tokenizer, template, text)
            H, S = run(model, ids, layer, attention=attention)
        vectors.append(readout(H, S, slots, readout_))
    return averaged(vectors)


# --- read-outs through the LM head (docs/methods-2026.md): EmbedFilter, PromptReps ----------

EMBEDFILTER_T = 'Summarize the sentence: "{text}" in one word:"'
EMBEDFILTER_ECHO_T = "Rewrite the following paragraph: {text}. The rewritten paragraph: {text}"
# ielab/PromptReps prompts/llama3 (passage), the literal two characters \n kept, minus the
# leading <|begin_of_text|> (the model's own BOS, which prompt_input's pieces put first).
PROMPTREPS_PASSAGE_T = (
    r"<|start_header_id|>system<|end_header_id|>\n\nYou are an AI assistant that can understand "
    r"human language.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nPassage: "
    r'"{text}". Use one word to represent the passage in a retrieval task. Make sure your word '
    r"is in lowercase.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nThe word is: "
    r'"'
)
PROMPTREPS_QUERY_T = PROMPTREPS_PASSAGE_T.replace("Passage:", "Query:").replace(
    "the passage", "the query"
)


def svd_rows(W, keep, start=None):
    """Rows start..start+keep of Vh in W = U S Vh (float64 SVD; default: the middle ones),
    each made to have its largest-magnitude entry positive (a singular vector's sign is
    arbitrary; this is the convention reba's saved states use)."""
    _, _, Vh = torch.linalg.svd(W.double(), full_matrices=False)
    d = W.shape[1]
    if keep == d:
        return torch.eye(d, dtype=torch.float64)
    start = (d - keep) // 2 if start is None else start
    rows = Vh[start : start + keep]
    first_largest = rows.abs().argmax(dim=1)
    return rows * torch.sign(rows[torch.arange(keep), first_largest])[:, None]


def echo_ends_input(tokenizer, template, text):
    """EmbedFilter's Echo input, as CentreChen/EmbFilter's run4*_echo.py ``transform_func``
    builds it: ``[bos] + piece0 + x + piece1 + x + [eos]`` (pieces and text tokenized apart,
    no special tokens), BOS set to EOS when the tokenizer has none. Returns the ids, the first
    ``x``'s positions and their ``embed_mask`` (the second ``x`` and the EOS)."""
    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    pieces = [part for part in template.split("{text}") if part]
    p0, p1 = (tokenizer(p, add_special_tokens=False)["input_ids"] for p in pieces)
    x = tokenizer(text, add_special_tokens=False)["input_ids"]
    ids = [bos] + p0 + x + p1 + x + [tokenizer.eos_token_id]
    mask = [0] + [0] * len(p0) + [0] * len(x) + [0] * len(p1) + [1] * len(x) + [1]
    first = list(range(1 + len(p0), 1 + len(p0) + len(x)))
    return ids, first, mask


def echo_with_ends(model, tokenizer, template, text, layer=-1):
    """The mean over ``echo_ends_input``'s mask (the second ``x`` and the EOS)."""
    ids, _, mask = echo_ends_input(tokenizer, template, text)
    H, _ = run(model, ids, layer, attention=False)
    return weighted(H, torch.tensor(mask, dtype=H.dtype))


def embedfilter(model, tokenizer, W, text, echo=False, ratio=2):
    """The EmbedFilter presets: the prompt's last token (or Echo's mean over the second
    occurrence and the closing EOS), then projected onto the middle d // ratio right singular
    directions."""
    if echo:
        h = echo_with_ends(model, tokenizer, EMBEDFILTER_ECHO_T, text)
    else:
        h = prompted(model, tokenizer, EMBEDFILTER_T, text, "last", -1)
    return svd_rows(W, W.shape[1] // ratio) @ h


def promptreps(model, tokenizer, W, template, text, stopwords, top=128, fallback=10):
    """PromptReps: the dense last-token state of the final layer, and log(1 + relu(logits))
    at the ids of the text's words (lower-cased \\w+ runs minus stopwords, each tokenized
    alone), the top ``top`` (zeros dropped); no word: the ``fallback`` largest logits."""
    ids, *_ = prompt_input(tokenizer, template, text, whole=False)
    H, _ = run(model, ids, -1, attention=False)
    h = H[-1]
    logits = W.double() @ h  # the whole vocabulary, float64
    words = [w for w in re.findall(r"\w+", text.lower()) if w not in stopwords]
    candidates = sorted(
        {i for w in words for i in tokenizer(w, add_special_tokens=False)["input_ids"]}
    )
    if not candidates:
        candidates = sorted(logits.topk(fallback).indices.tolist())
    values = torch.log1p(torch.relu(logits[candidates])).tolist()
    ranked = sorted(zip(candidates, values), key=lambda pair: -pair[1])[:top]
    return h, {i: v for i, v in ranked if v > 0}


# --- MoEE (docs/methods-2026.md): router weights by hand from each MoE layer's MLP input -----


@torch.no_grad()
def moee_raw(model, tokenizer, template, text, softmax, layer=-1, k=None):
    """``[HS, RW]`` at the last token of one prompt (``template`` None: the text ``k`` times,
    ``build_input``): ``RW`` from each layer whose MLP has a
    router (``mlp.gate``), as ``gate.weight @ x`` in float64 with ``x`` the MLP's input (the
    post-attention norm's output) captured by a hook, softmax over the layer's experts when
    ``softmax``; dense layers skipped."""
    if template is None:
        ids = build_input(tokenizer, text, k)[0]
    else:
        ids = prompt_input(tokenizer, template, text)[0]
    inputs, hooks = [], []
    for block in model.layers:
        if hasattr(block.mlp, "gate"):
            hooks.append(block.mlp.register_forward_pre_hook(lambda m, a: inputs.append(a[0])))
    try:
        H, _ = run(model, ids, layer, attention=False)
    finally:
        for hook in hooks:
            hook.remove()
    gates = [b.mlp.gate.weight.double() for b in model.layers if hasattr(b.mlp, "gate")]
    weights = []
    for x, W in zip(inputs, gates):
        logits = W @ x[0, -1].double()
        weights.append(torch.softmax(logits, 0) if softmax else logits)
    return torch.cat([H[-1], *weights])


def zscored(rows, mean=None, std=None):
    """``(x - mean) / (std + 1e-8)`` per dimension; statistics of ``rows`` themselves (unbiased)
    unless given."""
    rows = torch.as_tensor(rows, dtype=torch.float64)
    mean = rows.mean(0) if mean is None else mean
    std = rows.std(0) if std is None else std
    return (rows - mean) / (std + 1e-8)
