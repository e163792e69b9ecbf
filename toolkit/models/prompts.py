"""How a dialogue becomes a model's input and a summary its target, for every family.

A PromptFormat is text around the dialogue (`prefix`, `suffix`) and after the answer
(`answer_suffix`). The feature builder tokenizes each piece on its own, so a long dialogue is cut
without cutting the template, and training and prediction build identical prompts:

- seq2seq: prefix = data.source_prefix (T5: "summarize: "), the summary is the decoder's target.
- decoder-only with a chat template: the template rendered around a user message (optional
  system message, the instruction, the dialogue) with the generation prompt; the answer is the
  assistant's turn, closed as the template closes it.
- decoder-only without one: data.prompt_template around `{dialogue}`; by default the dialogue
  then the <|summary|> separator, or "Summary:" where the vocabulary may not grow (adapters).

The format is saved as `prompt_format.json` beside the model so predict rebuilds it exactly.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from transformers import PreTrainedTokenizerBase

from toolkit.data.features import SEPARATOR
from toolkit.errors import ConfigError
from toolkit.models.families import Family

logger = logging.getLogger(__name__)

FILE = "prompt_format.json"
DIALOGUE = "{dialogue}"
PLAIN_TEMPLATE = "{dialogue}\n\nSummary:\n"
_DIALOGUE_MARK = "\u2063DIALOGUE\u2063"  # never in real text (invisible separator)
_ANSWER_MARK = "\u2063ANSWER\u2063"


@dataclass(frozen=True)
class PromptFormat:
    prefix: str = ""
    suffix: str = ""
    answer_suffix: str = ""  # after the summary, before EOS (a chat template's end of turn)
    add_bos: bool = False

    def save(self, directory: Path) -> None:
        (directory / FILE).write_text(json.dumps(asdict(self), ensure_ascii=False, indent=1),
                                      encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> PromptFormat | None:
        path = directory / FILE
        if not path.is_file():
            return None
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def template_format(template: str, add_bos: bool) -> PromptFormat:
    """data.prompt_template: the text before and after `{dialogue}`."""
    if template.count(DIALOGUE) != 1:
        raise ConfigError([f"data.prompt_template must contain `{DIALOGUE}` exactly once; got "
                           f"{template!r}"])
    prefix, suffix = template.split(DIALOGUE)
    return PromptFormat(prefix=prefix, suffix=suffix, add_bos=add_bos)


def _messages(system_prompt: str | None, instruction: str, answer: str | None) -> list[dict]:
    user = f"{instruction}\n\n{_DIALOGUE_MARK}" if instruction else _DIALOGUE_MARK
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages.append({"role": "user", "content": user})
    if answer is not None:
        messages.append({"role": "assistant", "content": answer})
    return messages


def _render(tokenizer: PreTrainedTokenizerBase, messages: list[dict], generation: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False,
                                         add_generation_prompt=generation)


def chat_format(tokenizer: PreTrainedTokenizerBase, system_prompt: str | None,
                instruction: str, add_bos: bool) -> PromptFormat:
    """The chat template around one user turn and the assistant's answer.

    A template that refuses a system message (Gemma's) gets it at the top of the user message.
    """
    try:
        prompt = _render(tokenizer, _messages(system_prompt, instruction, None), True)
        full = _render(tokenizer, _messages(system_prompt, instruction, _ANSWER_MARK), False)
    except Exception as error:  # jinja raises TemplateError (or anything a template calls)
        if not system_prompt:
            raise ConfigError([f"the tokenizer's chat template fails on a user/assistant "
                               f"exchange ({error}); set data.prompt_template and remove the "
                               f"chat template, or fix the template"]) from None
        logger.warning("the chat template refuses a system message (%s); it opens the user "
                       "message instead", error)
        return chat_format(tokenizer, None, f"{system_prompt}\n\n{instruction}".strip(),
                           add_bos)
    prefix, suffix = prompt.split(_DIALOGUE_MARK)
    tail = full.split(_DIALOGUE_MARK, 1)[1]
    before_answer, answer_suffix = tail.split(_ANSWER_MARK)
    if before_answer.startswith(suffix):
        # the assistant's opening the generation prompt lacks (rare) goes into the prompt
        suffix = before_answer
    bos = tokenizer.bos_token or ""
    return PromptFormat(prefix=prefix, suffix=suffix, answer_suffix=answer_suffix,
                        add_bos=add_bos and not (bos and prefix.startswith(bos)))


def prompt_format(family: Family, tokenizer: PreTrainedTokenizerBase, *, source_prefix: str = "",
                  system_prompt: str | None = None, instruction: str = "",
                  prompt_template: str | None = None) -> PromptFormat:
    """The format training uses for this family, tokenizer and the `data.*` prompt keys."""
    add_bos = family.adds_bos and tokenizer.bos_token_id is not None
    if not family.causal:
        return PromptFormat(prefix=source_prefix, add_bos=add_bos)
    if prompt_template is not None:
        return template_format(source_prefix + prompt_template, add_bos)
    if tokenizer.chat_template:
        format_ = chat_format(tokenizer, system_prompt, instruction, add_bos)
        return PromptFormat(source_prefix + format_.prefix, format_.suffix,
                            format_.answer_suffix, format_.add_bos)
    template = DIALOGUE + SEPARATOR if SEPARATOR in tokenizer.get_vocab() else PLAIN_TEMPLATE
    return template_format(source_prefix + template, add_bos)


def config_prompt_format(family: Family, tokenizer: PreTrainedTokenizerBase, data) -> PromptFormat:
    """prompt_format from the config's `data` section."""
    return prompt_format(family, tokenizer, source_prefix=data.source_prefix,
                         system_prompt=data.system_prompt, instruction=data.instruction,
                         prompt_template=data.prompt_template)


def stop_token_ids(tokenizer: PreTrainedTokenizerBase, prompt: PromptFormat) -> list[int]:
    """Tokens that end an answer besides EOS: a chat template's end-of-turn special token."""
    ids = tokenizer(prompt.answer_suffix, add_special_tokens=False)["input_ids"] \
        if prompt.answer_suffix else []
    special = set(tokenizer.all_special_ids) | set(tokenizer.added_tokens_decoder)
    return ids[:1] if ids and ids[0] in special else []
