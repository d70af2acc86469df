#!/usr/bin/env python3
"""Recreate the tokenizer fixtures under test/fixtures/tokenizers/ and their expected outputs.

There is no model hub in CI, so the TypeScript tokenizer tests run against two tiny tokenizers
trained here on self-written text, plus `expected.json` files holding what Hugging Face
`transformers` produces for them. The TypeScript tests compare against those files exactly and
never run Python; rerun this script only when the fixtures or the expectations must change:

    /path/to/venv/bin/python scripts/make_tokenizer_fixtures.py

Requires `tokenizers` and `transformers` (written against tokenizers 0.23 / transformers 5.x).

Fixtures:
  chatml/  byte-level BPE like SmolLM2-Instruct: `<|endoftext|>`, `<|im_start|>`, `<|im_end|>`,
           a ChatML chat_template in tokenizer_config.json, no pad token (the loader falls back to
           eos), a generation_config.json whose eos_token_id is a list, and a config.json.
  llama/   sentencepiece-like BPE like Llama 2: Metaspace pre-tokenizer, byte fallback tokens
           <0x00>..<0xFF>, `<unk>`/`<s>`/`</s>`, add_bos_token=true, special_tokens_map.json with
           the object form of the entries, and no chat template.

Each expected.json also lists "variants": a patch to tokenizer_config.json that the TypeScript
test applies to a temporary copy of the fixture, with what transformers gives for the patched
folder (loaded with the same settings passed as from_pretrained keyword arguments where
transformers 5 ignores the config entry, see `python_kwargs`).
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import AutoTokenizer, GenerationConfig, LlamaTokenizer, PreTrainedTokenizerFast

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "test" / "fixtures" / "tokenizers"

# Self-written training text (no third-party corpus). Varied enough that the merges cover common
# English pieces, while CJK, accents and emoji mostly stay as bytes, which is what the tests probe.
CORPUS = """
The quick brown fox jumps over the lazy dog. A small model learns from small data.
Hello world! Hello there, how are you today? I am fine, thank you, and you?
Fine-tuning a language model with adapters keeps most of the weights frozen.
Only the adapter weights are trained, so the checkpoint stays small and cheap to store.
The tokenizer splits text into pieces, and each piece maps to an integer id.
Padding makes every sequence in a batch the same length; the attention mask marks real tokens.
Special tokens mark the start and the end of a sequence, or the turns of a conversation.
The assistant answers the user. The user asks a question and the assistant replies.
System prompts set the tone: be helpful, be honest, be brief.
Numbers like 12, 345 and 6789 are split into single digits by some tokenizers.
Whitespace matters: two  spaces, three   spaces, tabs\tand newlines\nall become tokens.
Cafe, café, naive, naïve, facade, façade: accents are bytes in a byte-level vocabulary.
Unicode text such as 日本語, 中文, 한국어 and emoji like 🙂 or 🚀 falls back to bytes.
def train(model, data): return model.fit(data) # code is text too
What is two plus two? Two plus two is four. What is three plus three? It is six.
Learning rate, batch size, number of steps: the usual knobs of a training run.
Every good answer ends with an end-of-turn token so the model learns to stop.
""".strip().splitlines()

SMOLLM2_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# The same template with {% generation %} around what follows each assistant header, used only
# to get transformers' own assistant-token mask as the reference for the TypeScript encodeChat.
SMOLLM2_CHAT_TEMPLATE_WITH_GENERATION = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\n' }}{% generation %}{{ message['content'] + '<|im_end|>' + '\n' }}{% endgeneration %}"
    "{% else %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# A Llama-2-style template, passed explicitly to the llama fixture (which has none of its own).
LLAMA2_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] + ' ' + eos_token }}"
    "{% endif %}"
    "{% endfor %}"
)
LLAMA2_CHAT_TEMPLATE_WITH_GENERATION = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{% generation %}{{ ' ' + message['content'] + ' ' + eos_token }}{% endgeneration %}"
    "{% endif %}"
    "{% endfor %}"
)

ENCODE_CASES = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "Hello world! How are you today?",
    "  two leading spaces",
    "trailing spaces   ",
    "runs   of   spaces\tand\ttabs\n\nand newlines\r\n",
    "Café naïve façade",
    "日本語のテキスト",
    "emoji 🙂🚀 and a family 👩‍👩‍👧",
    "numbers 1234567 and 3.14",
    "",
    " ",
    "\n",
    "<|im_start|>user\nhi<|im_end|>",
    "<s>literal bos</s> in text",
    "MiXeD CaSe and UPPER",
    "a\u00a0b",
    "def train(model, data): return model.fit(data)",
]

BATCH_TEXTS = [
    "Hello world",
    "A much longer sentence with several more tokens in it, 🙂.",
    "日本",
]

CONVERSATIONS = {
    "single_turn": [
        {"role": "user", "content": "Hi there!"},
        {"role": "assistant", "content": "Hello! How can I help?"},
    ],
    "multi_turn_with_system": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is two plus two?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And three plus three?"},
        {"role": "assistant", "content": "6 🙂"},
    ],
    "question_only": [
        {"role": "user", "content": "Only a question, no answer yet."},
    ],
}


def byte_level_bpe() -> Tokenizer:
    """SmolLM2-like: digits split individually, GPT-2 byte-level regex, no normalizer."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=450,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS, trainer)
    return tokenizer


def sentencepiece_like_bpe() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Vocabulary and merges laid out like Llama 2: <unk>, <s>, </s>, 256 byte tokens, pieces."""
    byte_tokens = [f"<0x{i:02X}>" for i in range(256)]
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    # Split on the metaspace while training so that merges stay inside words; LlamaTokenizer
    # rebuilds the pre-tokenizer afterwards (prepend "▁" to the first section, no split).
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    # A fixed alphabet (printable ASCII and the metaspace) keeps training deterministic: letting
    # limit_alphabet pick the most frequent characters breaks ties differently from run to run.
    # Everything else (accents, CJK, emoji, tabs, newlines) is left to the byte fallback tokens.
    alphabet = [chr(c) for c in range(0x21, 0x7F)] + ["▁"]
    trainer = trainers.BpeTrainer(
        vocab_size=500,
        special_tokens=["<unk>", "<s>", "</s>", *byte_tokens],
        initial_alphabet=alphabet,
        limit_alphabet=len(alphabet),
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS, trainer)
    model = json.loads(tokenizer.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    return model["vocab"], merges


def write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def compact_json(value: Any, indent: str = "") -> str:
    """Indented JSON that keeps lists of numbers on one line, so expected.json stays small and readable."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {compact_json(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and value and not all(isinstance(v, (int, float)) for v in value):
        return "[\n" + ",\n".join(inner + compact_json(v, inner) for v in value) + "\n" + indent + "]"
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def write_expected(path: Path, value: Any) -> None:
    path.write_text(compact_json(value) + "\n", encoding="utf-8")


def make_chatml(directory: Path) -> None:
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=byte_level_bpe(),
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        unk_token="<|endoftext|>",
        chat_template=SMOLLM2_CHAT_TEMPLATE,
        model_max_length=2048,
        clean_up_tokenization_spaces=False,
    )
    # Legacy format: chat_template inside tokenizer_config.json, as SmolLM2-Instruct ships it.
    tokenizer.save_pretrained(directory, save_jinja_files=False)

    # transformers 5 writes a lean tokenizer_config.json; hub checkpoints saved by 4.x also carry
    # added_tokens_decoder and additional_special_tokens. Add them so the loader is tested on both.
    config_path = directory / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config["add_prefix_space"] = False
    config["added_tokens_decoder"] = {
        str(token_id): {
            "content": content,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": True,
        }
        for token_id, content in enumerate(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    }
    config["additional_special_tokens"] = ["<|im_start|>", "<|im_end|>"]
    write_json(config_path, dict(sorted(config.items())))

    write_json(
        directory / "generation_config.json",
        {"bos_token_id": 1, "eos_token_id": [2, 0], "transformers_version": "5.0.0"},
    )
    write_json(
        directory / "config.json",
        {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "vocab_size": 512,
            "bos_token_id": 1,
            "eos_token_id": 2,
            "hidden_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
        },
    )


def make_llama(directory: Path) -> None:
    vocab, merges = sentencepiece_like_bpe()
    tokenizer = LlamaTokenizer(
        vocab=vocab,
        merges=merges,
        add_bos_token=True,
        add_eos_token=False,
        padding_side="left",
        model_max_length=4096,
    )
    tokenizer.save_pretrained(directory)

    # Llama 2 checkpoints keep special tokens as objects in special_tokens_map.json and list them
    # in added_tokens_decoder; reproduce that shape so the loader's parsing of it is tested.
    def entry(content: str) -> dict[str, Any]:
        return {"content": content, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False}

    write_json(
        directory / "special_tokens_map.json",
        {"bos_token": entry("<s>"), "eos_token": entry("</s>"), "unk_token": entry("<unk>")},
    )
    config_path = directory / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["added_tokens_decoder"] = {
        str(vocab[content]): {**entry(content), "special": True} for content in ["<unk>", "<s>", "</s>"]
    }
    # transformers 4 wrote object-valued entries in tokenizer_config.json tagged with "__type".
    config["bos_token"] = {"__type": "AddedToken", **entry("<s>")}
    # Llama 2's tokenizer_config.json states these; the tokenizer.json post-processor agrees.
    config["add_bos_token"] = True
    config["add_eos_token"] = False
    write_json(config_path, dict(sorted(config.items())))


def chat_expectations(tokenizer: Any, conversations: dict[str, list[dict[str, str]]], template: str | None,
                      template_with_generation: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, messages in conversations.items():
        entry: dict[str, Any] = {"messages": messages}
        for add_generation_prompt in (False, True):
            key = "with_generation_prompt" if add_generation_prompt else "without_generation_prompt"
            text = tokenizer.apply_chat_template(
                messages, chat_template=template, add_generation_prompt=add_generation_prompt, tokenize=False
            )
            ids = tokenizer.apply_chat_template(
                messages, chat_template=template, add_generation_prompt=add_generation_prompt,
                tokenize=True, return_dict=False,
            )
            entry[key] = {"text": text, "ids": list(ids)}
        if any(m["role"] == "assistant" for m in messages):
            masked = tokenizer.apply_chat_template(
                messages, chat_template=template_with_generation, tokenize=True, return_dict=True,
                return_assistant_tokens_mask=True,
            )
            if list(masked["input_ids"]) != entry["without_generation_prompt"]["ids"]:
                raise SystemExit(f"{name}: the {{% generation %}} template renders differently")
            entry["assistant_mask"] = list(masked["assistant_masks"])
        out[name] = entry
    return out


def expectations(directory: Path, *, chat_template: str | None, chat_template_with_generation: str,
                 python_kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    tokenizer = AutoTokenizer.from_pretrained(directory, **(python_kwargs or {}))
    result: dict[str, Any] = {
        "transformers_class": type(tokenizer).__name__,
        "vocab_size": len(tokenizer),
        "base_vocab_size": tokenizer.vocab_size,
        "bos_token": tokenizer.bos_token,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token": tokenizer.eos_token,
        "eos_token_id": tokenizer.eos_token_id,
        "unk_token": tokenizer.unk_token,
        "unk_token_id": tokenizer.unk_token_id,
        "pad_token": tokenizer.pad_token,
        "pad_token_id": tokenizer.pad_token_id,
        "padding_side": tokenizer.padding_side,
        "all_special_tokens": sorted(tokenizer.all_special_tokens),
        "all_special_ids": sorted(tokenizer.all_special_ids),
    }
    generation_config_path = directory / "generation_config.json"
    if generation_config_path.exists():
        eos = GenerationConfig.from_pretrained(directory).eos_token_id
        result["generation_eos_token_ids"] = eos if isinstance(eos, list) else [eos]

    encodings = []
    for text in ENCODE_CASES:
        with_special = tokenizer.encode(text, add_special_tokens=True)
        without_special = tokenizer.encode(text, add_special_tokens=False)
        encodings.append(
            {
                "text": text,
                "ids": with_special,
                "ids_without_special_tokens": without_special,
                "decoded": tokenizer.decode(with_special, skip_special_tokens=False),
                "decoded_skip_special_tokens": tokenizer.decode(with_special, skip_special_tokens=True),
            }
        )
    result["encodings"] = encodings

    # Decoding ids that cut a multi-byte character in half must yield U+FFFD like the Rust decoder.
    emoji_ids = tokenizer.encode("ok 🦙", add_special_tokens=False)
    result["decode_partial_bytes"] = {"ids": emoji_ids[:-1], "decoded": tokenizer.decode(emoji_ids[:-1])}

    # Batches need a pad token; the loader falls back to eos when there is none, so do the same.
    padded = copy.deepcopy(tokenizer)
    if padded.pad_token is None:
        padded.pad_token = padded.eos_token
    batches = {}
    for side in ("right", "left"):
        encoded = padded(BATCH_TEXTS, padding="longest", padding_side=side)
        batches[f"longest_{side}"] = {
            "padding": "longest", "padding_side": side,
            "input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"],
        }
    for side in ("right", "left"):
        # truncation_side is a tokenizer attribute, not a call argument.
        truncating = copy.deepcopy(padded)
        truncating.truncation_side = side
        encoded = truncating(BATCH_TEXTS, padding="max_length", truncation=True, max_length=6, padding_side="right")
        batches[f"max_length_6_truncation_{side}"] = {
            "padding": "max_length", "padding_side": "right", "max_length": 6, "truncation": True,
            "truncation_side": side,
            "input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"],
        }
    encoded = padded(BATCH_TEXTS, padding="longest", pad_to_multiple_of=8, padding_side="right")
    batches["longest_multiple_of_8"] = {
        "padding": "longest", "padding_side": "right", "pad_to_multiple_of": 8,
        "input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"],
    }
    encoded = padded(BATCH_TEXTS, padding="longest", add_special_tokens=False)
    batches["default_side_without_special_tokens"] = {
        "padding": "longest", "add_special_tokens": False,
        "input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"],
    }
    result["batch_texts"] = BATCH_TEXTS
    result["batches"] = batches

    template = chat_template
    if template is None and tokenizer.chat_template is not None:
        template = tokenizer.chat_template
    if template is not None:
        result["chat_template_passed_explicitly"] = chat_template is not None
        result["chat"] = chat_expectations(
            tokenizer, CONVERSATIONS, chat_template, chat_template_with_generation
        )
    return result


def variant(directory: Path, name: str, config_patch: dict[str, Any], python_kwargs: dict[str, Any],
            **kwargs: Any) -> dict[str, Any]:
    """Expectations for a copy of `directory` whose tokenizer_config.json has `config_patch` applied."""
    with tempfile.TemporaryDirectory() as tmp:
        patched = Path(tmp) / directory.name
        shutil.copytree(directory, patched)
        config_path = patched / "tokenizer_config.json"
        config = json.loads(config_path.read_text(encoding="utf-8"))
        config.update(config_patch)
        write_json(config_path, config)
        expected = expectations(patched, python_kwargs=python_kwargs, **kwargs)
    # Keep variants small: the base expectations already cover chat and decoding.
    keep = ("vocab_size", "bos_token_id", "eos_token_id", "pad_token", "pad_token_id", "all_special_ids",
            "encodings", "batches")
    trimmed = {key: expected[key] for key in keep}
    trimmed["encodings"] = [{"text": e["text"], "ids": e["ids"]} for e in expected["encodings"][:4]]
    return {"name": name, "config_patch": config_patch, "python_kwargs": python_kwargs, "expected": trimmed}


def main() -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)

    chatml = FIXTURES / "chatml"
    shutil.rmtree(chatml, ignore_errors=True)
    make_chatml(chatml)
    chatml_expected = expectations(chatml, chat_template=None,
                                   chat_template_with_generation=SMOLLM2_CHAT_TEMPLATE_WITH_GENERATION)
    chatml_expected["variants"] = [
        variant(chatml, "explicit pad token", {"pad_token": "<|endoftext|>"}, {}, chat_template=None,
                chat_template_with_generation=SMOLLM2_CHAT_TEMPLATE_WITH_GENERATION),
        variant(chatml, "pad token missing from the vocabulary is appended", {"pad_token": "<pad>"}, {},
                chat_template=None, chat_template_with_generation=SMOLLM2_CHAT_TEMPLATE_WITH_GENERATION),
    ]
    write_expected(chatml / "expected.json", chatml_expected)

    llama = FIXTURES / "llama"
    shutil.rmtree(llama, ignore_errors=True)
    make_llama(llama)
    llama_expected = expectations(llama, chat_template=LLAMA2_CHAT_TEMPLATE,
                                  chat_template_with_generation=LLAMA2_CHAT_TEMPLATE_WITH_GENERATION)
    llama_expected["explicit_chat_template"] = LLAMA2_CHAT_TEMPLATE
    # transformers 5 drops add_bos_token/add_eos_token read from tokenizer_config.json when a
    # tokenizer.json exists, so the reference passes both flags as keyword arguments instead (one
    # alone would reset the other to False); the TypeScript loader honours the config entries,
    # as transformers 4's Llama tokenizer did.
    llama_expected["variants"] = [
        variant(llama, "add_eos_token", {"add_eos_token": True}, {"add_bos_token": True, "add_eos_token": True},
                chat_template=LLAMA2_CHAT_TEMPLATE,
                chat_template_with_generation=LLAMA2_CHAT_TEMPLATE_WITH_GENERATION),
        variant(llama, "no bos", {"add_bos_token": False}, {"add_bos_token": False},
                chat_template=LLAMA2_CHAT_TEMPLATE,
                chat_template_with_generation=LLAMA2_CHAT_TEMPLATE_WITH_GENERATION),
    ]
    write_expected(llama / "expected.json", llama_expected)

    for directory in (chatml, llama):
        sizes = {p.name: p.stat().st_size for p in sorted(directory.iterdir())}
        print(directory.relative_to(ROOT), sizes)


if __name__ == "__main__":
    main()
