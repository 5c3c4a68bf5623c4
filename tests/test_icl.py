"""In-context PromptEOL: the exact input string against the authors' template (their README's
demonstration; a pool file written here), pool files checked line by line and their digest in
cache keys, and the fast path against the naive reference (tests/reference.py) on the four
tiny families and SmolLM2-135M's real weights. No test needs the authors' pool file."""

import hashlib

import numpy as np
import pytest
import reference as R
from checks import assert_close

import reba
from reba.inputs import Item, Tokenizer, build_template
from reba.inputs.demonstrations import load_pool
from reba.methods import EmbeddingConfig, check_config, parse_method

# The authors' README (kongds/scaling_sentemb @ 8567aa0), their one quoted demonstration
README_LINE = 'This_sentence_:_"A_jockey_riding_a_horse."_means_in_one_word:"Equestrian".This_sentence_:_"*sent_0*"_means_in_one_word:"'  # noqa: E501
# Written for this test, in the authors' format
OWN_LINES = [
    'This_sentence_:_"A_kettle_whistles_on_the_stove."_means_in_one_word:"Boiling".This_sentence_:_"*sent_0*"_means_in_one_word:"',  # noqa: E501
    'This_sentence_:_"我们在湖边钓鱼。"_means_in_one_word:"钓鱼".This_sentence_:_"*sent_0*"_means_in_one_word:"',  # noqa: E501
]
TEXTS = ["The bank raised interest rates again this year.", "A bat flew out", "我们去银行取钱。"]


def authors_input(line: str, text: str) -> str:
    """evaluation.py's batcher: '_' -> ' ' in the template, then the text for '*sent 0*'."""
    return line.replace("_", " ").replace("*sent 0*", text).strip()


def authors_template(line: str) -> str:
    return line.replace("_", " ").replace("*sent 0*", "{text}")


@pytest.fixture
def pool_file(tmp_path):
    path = tmp_path / "pool.txt"
    path.write_text("\n".join(OWN_LINES) + "\n", encoding="utf-8")
    return path


def test_own_pool_in_the_authors_format():
    own = load_pool()
    assert len(own) == 32 and own.source == ""
    assert [d.line for d in own.demonstrations] == list(range(1, 33))
    chinese = [d for d in own.demonstrations if any("\u4e00" <= c <= "\u9fff" for c in d.word)]
    assert len(chinese) == 8
    for demo in own.demonstrations:
        sentence, word = demo.sentence.replace(" ", "_"), demo.word.replace(" ", "_")
        assert demo.raw == (
            f'This_sentence_:_"{sentence}"_means_in_one_word:"{word}".'
            'This_sentence_:_"*sent_0*"_means_in_one_word:"'
        )


@pytest.mark.parametrize("text", TEXTS)
def test_preset_input_string_is_the_readme_line(text):
    [spec] = parse_method("prompteol-icl").recipe.input_specs()
    assert spec.template.replace("{text}", text) == authors_input(README_LINE, text)
    assert parse_method("prompteol+icl").name == "prompteol-icl"


@pytest.mark.parametrize("line", [1, 2])
def test_pool_file_input_string_is_the_line(pool_file, line):
    recipe = parse_method(f"prompteol+icl[demo={line},pool={pool_file}]").recipe
    [spec] = recipe.input_specs()
    for text in TEXTS:
        assert spec.template.replace("{text}", text) == authors_input(OWN_LINES[line - 1], text)


@pytest.mark.parametrize(
    "content, message",
    [
        (OWN_LINES[0] + '\nThis sentence : "x" means in one word:"y".\n', "line 2: not a"),
        (OWN_LINES[0] + "\n\n" + OWN_LINES[1] + "\n", "line 2: not a"),
        ("", "the file is empty"),
    ],
)
def test_bad_pool_file_names_the_line(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as err:
        parse_method(f"prompteol+icl[demo=1,pool={path}]")
    assert str(path) in str(err.value)


def test_pool_line_range_uses_the_pool_size(pool_file):
    with pytest.raises(ValueError, match="a line 1..2 of the pool"):
        parse_method(f"prompteol+icl[demo=3,pool={pool_file}]")


def test_pool_digest_in_the_fingerprint(pool_file, tmp_path):
    other = tmp_path / "other.txt"
    other.write_text(OWN_LINES[0] + "\n" + README_LINE + "\n", encoding="utf-8")

    def fingerprint(name):
        return check_config(EmbeddingConfig(name), "sentence").fingerprint()

    a, b = (fingerprint(f"prompteol+icl[demo=1,pool={p}]") for p in (pool_file, other))
    assert a["pool_sha256"] == hashlib.sha256(pool_file.read_bytes()).hexdigest()
    assert b["pool_sha256"] == hashlib.sha256(other.read_bytes()).hexdigest()
    assert a["pool_sha256"] != b["pool_sha256"]  # same line 1, other pools: other keys
    own = fingerprint("prompteol+icl[demo=1]")
    assert own["pool_sha256"] == load_pool().sha256
    assert "pool_sha256" not in fingerprint("prompteol-icl")  # the README line: no pool
    # the file changed in place: the key follows its content
    other.write_text(OWN_LINES[1] + "\n", encoding="utf-8")
    assert fingerprint(f"prompteol+icl[demo=1,pool={other}]")["pool_sha256"] != b["pool_sha256"]


def test_preset_is_the_readme_demonstration(tiny):
    """prompteol-icl: the README's demonstration; the ids are the whole string tokenized with
    the tokenizer's special tokens, as the authors do."""
    [spec] = parse_method("prompteol-icl").recipe.input_specs()
    tok = Tokenizer(tiny.tokenizer, tiny.prefix_ids, tiny.suffix_ids)
    items = [Item(i, t) for i, t in enumerate(TEXTS)]
    built, _ = build_template(tok, items, spec.template, whole=True, max_length=512)
    for item, text in zip(built, TEXTS):
        want = tiny.tokenizer(authors_input(README_LINE, text))["input_ids"]
        assert list(item.ids) == want


def reference(lm, name, texts):
    """Written out per name: the authors' template string into the naive reference."""
    t59, t16 = authors_template(README_LINE), authors_template(load_pool().line(16).raw)
    model, tok = lm.model, lm.tokenizer
    out = []
    for text in texts:
        if name == "prompteol-icl":
            v = R.prompted(model, tok, t59, text, "last", -1)
        elif name == "prompteol+icl[demo=16]+reba":
            v = R.prompted(model, tok, t16, text, "reba", -1)
        elif name == "prompteol-icl+tp+reba-last":
            end = max(2, R.scaled(model, 7))
            H, S, slots = R.token_prepending(model, tok, t59, text, -1, 1, end, 0, True)
            v = R.readout(H, S, slots, "reba-last")
        elif name == "prompteol-icl+cp":  # the auxiliary prompt gets no demonstration
            H, S, slots = R.contrastive_prompting(
                model, tok, t59, text, -1, R.scaled(model, 4), 2.0
            )
            v = R.readout(H, S, slots, "last")
        out.append(v.numpy())
    return np.stack(out)


NAMES = [
    "prompteol-icl",
    "prompteol+icl[demo=16]+reba",
    "prompteol-icl+tp+reba-last",
    "prompteol-icl+cp",
]


@pytest.mark.parametrize("name", NAMES)
def test_icl_matches_reference(tiny, name):
    got = reba.Embedder(tiny, method=name).encode(TEXTS, batch_size=3)
    assert_close(got, reference(tiny, name, TEXTS))


@pytest.mark.parametrize("packing", [False, True])
def test_icl_is_batch_invariant(tiny, packing):
    emb = reba.Embedder(tiny, method="prompteol-icl+tp+reba-last")
    alone = np.stack([emb.encode([t], batch_size=1)[0] for t in TEXTS])
    together = emb.embed(TEXTS * 3, batch_size=4, packing=packing).embeddings
    assert_close(together, np.tile(alone, (3, 1)))


@pytest.mark.parametrize(
    "name, message",
    [
        ("pcot+icl", "defined on PromptEOL's template only"),
        ("ck+icl", "defined on PromptEOL's template only"),
        ("echo+icl", "not the plain repetition input"),
        ("prompteol+icl[demo=33]", "a line 1..32 of the pool"),
        ("prompteol+icl[demo=-1]", "demo is 0"),
        ("prompteol+icl[pool=/no/such/pool.txt]", "cannot read it"),
    ],
)
def test_icl_refused_with_a_message(name, message):
    with pytest.raises(ValueError, match=message):
        parse_method(name)


def test_icl_recorded_in_the_configuration(tiny, pool_file):
    from reba.methods.serialize import recipe_from_dict

    name = f"prompteol+icl[demo=2,pool={pool_file}]"
    described = reba.Embedder(tiny, method=name).describe()
    assert described["recipe"]["icl"] == {"demo": 2, "pool": str(pool_file)}
    digest = hashlib.sha256(pool_file.read_bytes()).hexdigest()
    assert described["icl"] == {
        "demo": 2, "pool": str(pool_file), "pool_sha256": digest,
        "sentence": "我们在湖边钓鱼。", "word": "钓鱼",
    }  # fmt: skip
    assert recipe_from_dict(described["recipe"]) == parse_method(name).recipe
    preset = reba.Embedder(tiny, method="prompteol-icl").describe()["icl"]
    assert preset == {"demo": 0, "pool": "", "sentence": "A jockey riding a horse.",
                      "word": "Equestrian"}  # fmt: skip


@pytest.mark.parametrize("name", ["prompteol-icl", "prompteol-icl+tp+reba-last"])
def test_smollm2_icl_matches_reference(smollm2, name):
    got = reba.Embedder(smollm2, method=name).encode(TEXTS[:2], batch_size=2)
    assert_close(got, reference(smollm2, name, TEXTS[:2]))
