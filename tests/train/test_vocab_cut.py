"""The vocabulary cut (maaza.train.vocab_cut): a byte-level BPE cut to the tokens some texts use tokenizes
those texts exactly as before, still tokenizes (and decodes) anything else, and the cut model's embeddings
are the kept rows, so its logits are the uncut model's.

The tokenizer is a tiny byte-level BPE trained here (vocab 400) and the models are tiny random Llamas; the
helpers (`tiny_tokenizer`, `tiny_llama`) are shared with test_student_init.py.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from maaza.errors import MaazaError
from maaza.train.vocab_cut import CUT_FILE, cut_embeddings, cut_vocabulary

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|unused|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# ~30 short banking intents (BANKING77-like) and the sentiment test task's reviews: what the BPE learns from
SENTENCES = [
    "I lost my card yesterday, what should I do?",
    "How do I activate my new card?",
    "My transfer has not arrived yet.",
    "Why was I charged a fee for the transfer?",
    "Can I top up my account with cash?",
    "The exchange rate on my payment was wrong.",
    "My card payment was declined at the shop.",
    "How long does a bank transfer take?",
    "I want to change my PIN.",
    "Where can I see my card details?",
    "My top up failed, please help.",
    "Is there a fee for topping up by card?",
    "I think someone stole my card.",
    "How do I order a physical card?",
    "The ATM did not give me my cash.",
    "Can I get a refund for this payment?",
    "Why is my balance not updated?",
    "I need to verify my identity.",
    "What currencies can I hold in my account?",
    "My virtual card is not working.",
    "How do I close my account?",
    "I was charged twice for one payment.",
    "Review: loved it\nSentiment:",
    "Review: awful\nSentiment:",
    "Review: it was fine\nSentiment:",
    "Review: great fun\nSentiment:",
    "Review: too slow\nSentiment:",
    "Review: okay I guess\nSentiment:",
    "Review: superb, wonderful and never boring\nSentiment:",
    "Review: broken, average, so-so\nSentiment:",
]
TRAINING = SENTENCES[:12]  # the texts a cut keeps
UNSEEN = [
    "Completely different words: zebra quokka xylophone!",
    "emoji 😀🏦💳 and more 👍🏽",
    "中文文本：我的卡丢了。",
    "control \x00\x01\x07\x1b[0m tab\tnew\nline\r\n",
    "   leading and trailing spaces   ",
    "<|im_start|>user\nspecial tokens inside<|im_end|>",
    "é, ü, ñ, Ω, ∑, 𝔘",
    "",
]


def tiny_tokenizer(*, bos_template: bool = False) -> Any:
    """A byte-level BPE of ~400 tokens trained on SENTENCES, wrapped like a hub tokenizer (pad, eos, chat
    template); bos_template: a TemplateProcessing post-processor that prepends <|im_start|>."""
    from tokenizers import ByteLevelBPETokenizer
    from tokenizers.processors import TemplateProcessing
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        SENTENCES, vocab_size=400, min_frequency=1, special_tokens=SPECIALS, show_progress=False
    )
    backend = bpe._tokenizer
    if bos_template:
        bos = backend.token_to_id("<|im_start|>")
        backend.post_processor = TemplateProcessing(
            single="<|im_start|> $A", pair="<|im_start|> $A $B", special_tokens=[("<|im_start|>", bos)]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=CHAT_TEMPLATE,
        clean_up_tokenization_spaces=False,
        padding_side="right",
    )


def tiny_llama(tokenizer: Any, *, classifier: bool = False, tied: bool = True, layers: int = 4) -> Any:
    """A random Llama (hidden 32) over `tokenizer`'s vocabulary: a 3-label classifier or a causal LM."""
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, LlamaForSequenceClassification

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=tied,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        num_labels=3,
    )
    if classifier:
        return LlamaForSequenceClassification(config).eval()
    model = LlamaForCausalLM(config).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=[tokenizer.eos_token_id, tokenizer.pad_token_id],
        pad_token_id=tokenizer.pad_token_id,
    )
    return model


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return tiny_tokenizer()


@pytest.fixture(scope="module")
def cut(tokenizer: Any) -> Any:
    return cut_vocabulary(tokenizer, TRAINING)


def ids(tokenizer: Any, text: str, *, special: bool = False) -> list[int]:
    return tokenizer(text, add_special_tokens=special)["input_ids"]


def merges(tokenizer: Any) -> list[tuple[str, str]]:
    found = json.loads(tokenizer.backend_tokenizer.to_str())["model"]["merges"]
    return [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in found]


# --- the tokenizer ------------------------------------------------------------------------------------


def test_the_cut_tokenizes_the_training_texts_exactly_as_before(tokenizer: Any, cut: Any) -> None:
    from tokenizers.pre_tokenizers import ByteLevel

    assert len(cut.tokenizer) == len(cut.kept_ids) < len(tokenizer)
    assert cut.kept_ids == sorted(cut.kept_ids) and len(set(cut.kept_ids)) == len(cut.kept_ids)
    for text in TRAINING:
        old, new = ids(tokenizer, text), ids(cut.tokenizer, text)
        assert cut.tokenizer.convert_ids_to_tokens(new) == tokenizer.convert_ids_to_tokens(old), text
        assert [cut.kept_ids[i] for i in new] == old, text
        assert cut.tokenizer.decode(new) == text == tokenizer.decode(old)
    batch = cut.tokenizer(TRAINING, add_special_tokens=False)["input_ids"]  # the batch path too
    assert [[cut.kept_ids[i] for i in row] for row in batch] == [ids(tokenizer, t) for t in TRAINING]
    # all 256 byte pieces are kept, every kept id spells the same token, and the merges keep their order
    vocab = cut.tokenizer.get_vocab()
    assert set(ByteLevel.alphabet()) <= set(vocab)
    assert cut.tokenizer.convert_ids_to_tokens(list(range(len(cut.kept_ids)))) == (
        tokenizer.convert_ids_to_tokens(cut.kept_ids)
    )
    kept_merges, all_merges = merges(cut.tokenizer), merges(tokenizer)
    assert 0 < len(kept_merges) < len(all_merges)
    positions = [all_merges.index(m) for m in kept_merges]
    assert positions == sorted(positions)
    assert all(a in vocab and b in vocab and a + b in vocab for a, b in kept_merges)
    assert cut.describe() == {
        "tokens_before": len(tokenizer),
        "kept_tokens": len(cut.kept_ids),
        "used_tokens": len({i for t in TRAINING for i in ids(tokenizer, t)}),
        "texts": len(TRAINING),
    }


def test_unseen_texts_still_tokenize_and_decode_to_themselves(tokenizer: Any, cut: Any) -> None:
    for text in UNSEEN + SENTENCES[12:]:
        new = ids(cut.tokenizer, text)
        assert all(0 <= i < len(cut.kept_ids) for i in new)
        assert cut.tokenizer.decode(new) == text, repr(text)
        assert tokenizer.decode(ids(tokenizer, text)) == text  # the original round-trips them too
    # an unseen word is spelled with more, shorter kept pieces
    word = "Completely different words: zebra quokka xylophone!"
    assert len(ids(cut.tokenizer, word)) >= len(ids(tokenizer, word))
    assert ids(cut.tokenizer, "") == []


def test_special_tokens_are_kept_and_their_ids_remapped(tokenizer: Any, cut: Any) -> None:
    new = cut.tokenizer
    for name in ("bos_token", "eos_token", "pad_token"):
        assert getattr(new, name) == getattr(tokenizer, name)
        assert cut.kept_ids[getattr(new, f"{name}_id")] == getattr(tokenizer, f"{name}_id")
    assert new.padding_side == "right" and new.chat_template == tokenizer.chat_template
    for token in SPECIALS:  # keep_special: every added token, used or not
        assert cut.kept_ids[new.convert_tokens_to_ids(token)] == tokenizer.convert_tokens_to_ids(token)
    messages = [{"role": "user", "content": TRAINING[0]}]
    old_chat = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert new.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) == old_chat
    assert new.decode(ids(new, old_chat)) == old_chat  # not a text of the cut: other pieces, same text
    chat = cut_vocabulary(tokenizer, [old_chat])  # a cut of the chat prompt tokenizes it as before
    assert [chat.kept_ids[i] for i in ids(chat.tokenizer, old_chat)] == ids(tokenizer, old_chat)
    short, long = sorted(TRAINING[:2], key=lambda t: len(ids(tokenizer, t)))
    assert new([long, short], padding=True)["input_ids"][1][-1] == new.pad_token_id
    # keep_special=False: only the named special tokens and the added tokens the texts use stay
    lean = cut_vocabulary(tokenizer, TRAINING, keep_special=False)
    assert "<|unused|>" not in lean.tokenizer.get_vocab() and len(lean.kept_ids) == len(cut.kept_ids) - 1
    assert {lean.tokenizer.eos_token, lean.tokenizer.pad_token} <= set(lean.tokenizer.get_vocab())
    assert lean.tokenizer.decode(ids(lean.tokenizer, "<|unused|>")) == "<|unused|>"  # spelled in bytes


def test_a_post_processor_inserts_the_remapped_ids() -> None:
    original = tiny_tokenizer(bos_template=True)
    cut = cut_vocabulary(original, TRAINING)
    for text in TRAINING[:3]:
        old, new = ids(original, text, special=True), ids(cut.tokenizer, text, special=True)
        assert old[0] == original.bos_token_id and new[0] == cut.tokenizer.bos_token_id
        assert [cut.kept_ids[i] for i in new] == old


def test_the_saved_cut_tokenizer_loads_with_autotokenizer(cut: Any, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    folder = cut.save(tmp_path / "cut")
    loaded = AutoTokenizer.from_pretrained(folder)
    assert len(loaded) == len(cut.kept_ids) and loaded.pad_token == cut.tokenizer.pad_token
    for text in TRAINING + UNSEEN:
        assert ids(loaded, text) == ids(cut.tokenizer, text) and loaded.decode(ids(loaded, text)) == text
    saved = json.loads((folder / CUT_FILE).read_text())
    assert saved["kept_ids"] == cut.kept_ids and saved["kept_tokens"] == len(cut.kept_ids)


def test_the_smollm2_tokenizer_cuts_to_a_few_hundred_tokens(smollm2_tokenizer: Any) -> None:
    """The real base tokenizer (49152 tokens, 48900 merges): its chat-template prompts round-trip."""
    base = copy.deepcopy(smollm2_tokenizer)
    base.pad_token = base.eos_token
    prompts = [
        base.apply_chat_template([{"role": "user", "content": t}], add_generation_prompt=True, tokenize=False)
        for t in TRAINING
    ]
    cut = cut_vocabulary(base, prompts)
    assert 256 + 17 < len(cut.kept_ids) < 2000 and len(base) == 49152
    for text in prompts:
        old, new = ids(base, text, special=True), ids(cut.tokenizer, text, special=True)
        assert [cut.kept_ids[i] for i in new] == old and cut.tokenizer.decode(new) == text
    for text in UNSEEN:
        assert cut.tokenizer.decode(ids(cut.tokenizer, text)) == text
    assert cut.kept_ids[cut.tokenizer.eos_token_id] == base.eos_token_id


def test_a_tokenizer_that_is_not_a_byte_level_bpe_is_refused() -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = Tokenizer(models.WordLevel({"[UNK]": 0, "card": 1}, unk_token="[UNK]"))
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    with pytest.raises(MaazaError, match=r"the tokenizer's model is WordLevel, not BPE"):
        cut_vocabulary(PreTrainedTokenizerFast(tokenizer_object=words), ["card"])
    chars = Tokenizer(models.BPE({"a": 0, "b": 1, "ab": 2}, [("a", "b")]))
    chars.pre_tokenizer = pre_tokenizers.Whitespace()
    with pytest.raises(MaazaError, match=r"no ByteLevel pre-tokenizer"):
        cut_vocabulary(PreTrainedTokenizerFast(tokenizer_object=chars), ["ab"])


# --- the embeddings -----------------------------------------------------------------------------------


def _batch(tokenizer: Any, texts: list[str]) -> dict[str, Any]:
    return tokenizer(texts, add_special_tokens=False, padding=True, return_tensors="pt")


def test_a_cut_classifier_keeps_the_rows_and_gives_the_same_logits(tokenizer: Any, cut: Any) -> None:
    torch.manual_seed(3)
    model = tiny_llama(tokenizer, classifier=True)
    uncut = copy.deepcopy(model)
    cut_embeddings(model, cut.kept_ids)
    kept = torch.tensor(cut.kept_ids)
    assert torch.equal(model.get_input_embeddings().weight, uncut.get_input_embeddings().weight[kept])
    assert model.config.vocab_size == len(cut.kept_ids) == model.get_input_embeddings().num_embeddings
    assert torch.equal(model.score.weight, uncut.score.weight)
    assert cut.kept_ids[model.config.pad_token_id] == uncut.config.pad_token_id
    assert model.config.pad_token_id == cut.tokenizer.pad_token_id
    assert model.get_input_embeddings().padding_idx == cut.tokenizer.pad_token_id
    with torch.no_grad():
        new = model(**_batch(cut.tokenizer, TRAINING[:4])).logits
        old = uncut(**_batch(tokenizer, TRAINING[:4])).logits
    assert torch.equal(new, old)


@pytest.mark.parametrize("tied", [True, False])
def test_a_cut_causal_lm_keeps_the_rows_and_the_kept_columns_of_its_logits(
    tokenizer: Any, cut: Any, tied: bool
) -> None:
    torch.manual_seed(4)
    model = tiny_llama(tokenizer, tied=tied)
    uncut = copy.deepcopy(model)
    cut_embeddings(model, cut.kept_ids)
    kept = torch.tensor(cut.kept_ids)
    new_in, new_out = model.get_input_embeddings().weight, model.get_output_embeddings().weight
    assert torch.equal(new_in, uncut.get_input_embeddings().weight[kept])
    assert torch.equal(new_out, uncut.get_output_embeddings().weight[kept])
    assert (new_out is new_in) == tied
    assert model.config.vocab_size == len(cut.kept_ids) and new_out.shape[0] == len(cut.kept_ids)
    for settings, old in ((model.config, uncut.config), (model.generation_config, uncut.generation_config)):
        assert cut.kept_ids[settings.bos_token_id] == old.bos_token_id
        assert cut.kept_ids[settings.pad_token_id] == old.pad_token_id
    assert [cut.kept_ids[i] for i in model.generation_config.eos_token_id] == (
        uncut.generation_config.eos_token_id
    )
    with torch.no_grad():
        new = model(**_batch(cut.tokenizer, TRAINING[:3])).logits
        old = uncut(**_batch(tokenizer, TRAINING[:3])).logits[..., kept]
    assert torch.allclose(new, old, atol=1e-6, rtol=0)
    # it still trains: a step moves the (tied or not) embeddings without error
    loss = model(
        **_batch(cut.tokenizer, TRAINING[:1]), labels=_batch(cut.tokenizer, TRAINING[:1])["input_ids"]
    ).loss
    loss.backward()
    assert model.get_input_embeddings().weight.grad is not None


def test_cut_embeddings_refuses_ids_outside_the_model(tokenizer: Any) -> None:
    model = tiny_llama(tokenizer, classifier=True, layers=1)
    with pytest.raises(MaazaError, match=r"kept_ids must be distinct ids below the model's"):
        cut_embeddings(model, [0, len(tokenizer)])
    with pytest.raises(MaazaError, match=r"the model's pad_token_id \(id \d+\) is not among the kept tokens"):
        cut_embeddings(model, [i for i in range(len(tokenizer)) if i != tokenizer.pad_token_id])
