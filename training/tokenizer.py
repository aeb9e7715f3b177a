"""The tokenizer of Kiln's own model: a byte-level BPE trained with `tokenizers` on the model's corpus,
saved as a standard PreTrainedTokenizerFast folder (tokenizer.json + tokenizer_config.json with the chat
template), so transformers, TRL and vLLM all load it with `AutoTokenizer.from_pretrained(dir)`.

Two choices matter for what a small model can learn:

- The first letter of every word is a token of its own (with the space before it, if any): "zorblats",
  " zorblats" and "Zorblat" then share every piece after the first letter, so writing the user's noun as
  an entity name in PascalCase is copying pieces from the prompt plus one small, learnable letter
  mapping, instead of recalling a whole-word token the model has never seen (held-out nouns are new).
- A plural ending ("s", or "es" after s, x, z, ch, sh) is a piece of its own, so no merge crosses the end
  of the stem: " zorblats" is " z" + the pieces of "Zorblat" after "Z" + "s" (without it, 69 of 528
  held-out nouns tokenized alike in the prompt and in app.json; with it, 524: the rest are "-ies" plurals
  and "course").
- The chat template is Qwen's, with `{% generation %}` around what the assistant wrote, so TRL's
  assistant-only loss learns the answer and not the prompt; the prompt rendered with
  `add_generation_prompt=True` is a prefix of prompt + answer (what DPO, KTO and serving rely on).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

PAD = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
SPECIAL_TOKENS = [PAD, IM_START, IM_END]

CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'assistant' %}<|im_start|>assistant\n"
    "{% generation %}{{ message['content'] }}<|im_end|>{% endgeneration %}\n"
    "{% else %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# A word's first letter, with the space before it: a piece of its own (see the module's docstring).
FIRST_LETTER = r" ?(?<![A-Za-z])[A-Za-z]"
# A plural ending: a piece of its own, so a merge never crosses the end of the stem and "zorblats" holds
# every piece of "Zorblat" ("es" after s, x, z, ch and sh: "glasses", "glass").
PLURAL_ENDING = r"(?<=[sxz]|[cs]h)es(?![A-Za-z])|(?<=[A-Za-z])(?<![sS])s(?![A-Za-z])"


def _pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(FIRST_LETTER), behavior="isolated"),
            pre_tokenizers.Split(Regex(PLURAL_ENDING), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )


def train_tokenizer(texts: Iterable[str], out_dir: Path | str | None = None, *, vocab_size: int = 2000
                    ) -> PreTrainedTokenizerFast:
    """A byte-level BPE trained on `texts`, with the chat template; saved to `out_dir` when given."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = _pre_tokenizer()
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # any byte can be written, seen or not
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, eos_token=IM_END, pad_token=PAD, bos_token=None, unk_token=None,
        model_max_length=1024, clean_up_tokenization_spaces=False,
    )
    fast.chat_template = CHAT_TEMPLATE
    if out_dir is not None:
        fast.save_pretrained(str(out_dir))
    return fast
