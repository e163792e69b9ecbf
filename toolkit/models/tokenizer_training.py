"""A tokenizer for from-scratch models, trained on the training dialogues and summaries."""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from toolkit.errors import ConfigError

SPECIALS = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>",
            "mask_token": "<mask>"}


def train_tokenizer(texts: Iterable[str], tags: list[str], vocab_size: int = 4000,
                    algorithm: str = "bpe") -> PreTrainedTokenizerFast:
    """A Metaspace BPE or Unigram tokenizer (Korean-friendly: no byte-level splits of Hangul).

    `prepend_scheme="first"` keeps "#Person1#은" and "#Person1#: " intact through a round trip.

    Speaker tags and masked entities are registered whole; no template adds bos/eos, the
    feature builder places them per model family.
    """
    specials = list(SPECIALS.values())
    if algorithm == "unigram":
        model = models.Unigram()
        trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=specials,
                                          unk_token="<unk>")
    else:
        model = models.BPE(unk_token="<unk>")
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                      min_frequency=2)
    backend = Tokenizer(model)
    backend.normalizer = normalizers.NFKC()
    backend.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
    backend.decoder = decoders.Metaspace(prepend_scheme="first")
    texts = list(texts)
    try:
        backend.train_from_iterator(texts, trainer=trainer)
    except Exception as error:  # tokenizers raises a bare Exception
        if "not large enough to contain all chars" not in str(error):
            raise
        chars = len(set("".join(texts)))
        raise ConfigError([f"tokenizer.vocab_size={vocab_size} is below the {chars} distinct "
                           f"characters of the training text, which a unigram vocabulary must "
                           f"hold; raise tokenizer.vocab_size or use tokenizer.algorithm=bpe"]) from None
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, **SPECIALS)
    tokenizer.add_special_tokens({"additional_special_tokens": tags})
    return tokenizer
