"""Claims of the chapter "From the Transformer to GPT" about its live run and the committed one."""

import math

from tests.claims import Claim

NOTEBOOK = "08_gpt"

CLAIMS = [
    Claim(
        "The model has {n_parameters} parameters, and {token_table_share} of them sit in the two "
        "tables whose size is the vocabulary's.",
        lambda g: g["n_parameters"] > 0 and 0.5 < g["token_table_share"] < 1,
    ),
    Claim(
        "Validation and test hold about a tenth of the text each ({validation_share} for "
        "validation).",
        lambda g: 0.08 < g["validation_share"] < 0.11,
    ),
    Claim(
        "The character tokenizer has {char_vocab} tokens; BPE has {bpe_vocab}.",
        lambda g: g["char_vocab"] < g["bpe_vocab"] == 1024,
    ),
    Claim(
        "Its first merges join a space to the letter after it ...; by merge {the_rank}, ' the' "
        "is a single token.",
        lambda g: 1 <= g["the_rank"] <= 20,
    ),
    Claim(
        "The sentence is {sentence_characters} characters, and {sentence_bpe_tokens} BPE tokens.",
        lambda g: g["sentence_characters"] == 41 and g["sentence_bpe_tokens"] < 41 / 2,
    ),
    Claim(
        "On the validation text one BPE token covers {characters_per_token_validation} "
        "characters, a little less than on the training text ({characters_per_token_train}).",
        lambda g: 1 < g["characters_per_token_validation"] < g["characters_per_token_train"],
    ),
    Claim(
        "A window of {block_size} tokens reads about {window_characters} characters with BPE; "
        "reading as much one character at a time, attention scores {attention_factor} times as "
        "many pairs.",
        lambda g: (
            abs(g["window_characters"] - g["block_size"] * g["characters_per_token_validation"])
            < 1e-6
            and abs(g["attention_factor"] - g["characters_per_token_validation"] ** 2) < 1e-6
        ),
    ),
    Claim(
        "Guessing uniformly among the {bpe_vocab} tokens costs ln {bpe_vocab} = {uniform_loss} "
        "nats.",
        lambda g: abs(g["uniform_loss"] - math.log(g["bpe_vocab"])) < 1e-9,
    ),
    Claim(
        "The loss curve figure: the model passes the unigram baseline and ends well below it; "
        "the validation loss is {live_loss}, {live_gain} nats below the unigram baseline "
        "({unigram_validation}): the model has learned to use the context.",
        lambda g: (
            g["live_gain"] > 0.5
            and abs(g["unigram_validation"] - g["live_loss"] - g["live_gain"]) < 1e-9
            and g["unigram_validation"] < g["uniform_loss"]
        ),
    ),
    Claim(
        "Per character that is {live_nats_per_character} nats against "
        "{unigram_nats_per_character}.",
        lambda g: g["live_nats_per_character"] < g["unigram_nats_per_character"],
    ),
    Claim(
        "In perplexity per token, the model hesitates between about {live_perplexity_per_token} "
        "tokens where the unigram model hesitates between {unigram_perplexity_per_token}.",
        lambda g: (
            abs(math.log(g["live_perplexity_per_token"]) - g["live_loss"]) < 1e-4
            and g["live_perplexity_per_token"] < g["unigram_perplexity_per_token"]
        ),
    ),
    Claim(
        "Scored on every window of the validation split, the committed record of this same "
        "recipe gives {committed_chapter_loss} (close to the live score on the evaluation "
        "windows).",
        lambda g: abs(g["committed_chapter_loss"] - g["live_loss"]) < 0.15,
    ),
    Claim(
        "Per character, the BPE models reach {bpe_mean} nats on average and the character "
        "models {characters_mean}, a perplexity per character of {bpe_perplexity} against "
        "{characters_perplexity}.",
        lambda g: (
            g["bpe_mean"] < g["characters_mean"]
            and abs(math.log(g["bpe_perplexity"]) - g["bpe_mean"]) < 1e-4
            and abs(math.log(g["characters_perplexity"]) - g["characters_mean"]) < 1e-4
        ),
    ),
    Claim(
        "Paired seed by seed BPE is ahead every time, by at least {smallest_difference} nats "
        "({mean_difference} on average).",
        lambda g: (
            len(g["seed_differences"]) == g["committed_seeds"] == 3
            and min(g["seed_differences"]) == g["smallest_difference"] > 0
        ),
    ),
    Claim(
        "The runs show that this gap is much larger than the variation from one seed to the "
        "next (spreads {bpe_spread} and {characters_spread}).",
        lambda g: g["smallest_difference"] > 2 * max(g["bpe_spread"], g["characters_spread"]),
    ),
    Claim(
        "The BPE model has more parameters ({bpe_parameters} against {characters_parameters}).",
        lambda g: g["bpe_parameters"] > g["characters_parameters"],
    ),
    Claim(
        "A unigram model over BPE tokens already costs only {bpe_unigram_per_character} nats "
        "per character, against {characters_unigram_per_character} over characters.",
        lambda g: g["bpe_unigram_per_character"] < g["characters_unigram_per_character"],
    ),
    Claim(
        "The longer committed run: {committed_steps} steps of {committed_batch} windows, "
        "against the live recipe's {recipe_steps} steps of {batch_size}.",
        lambda g: (
            g["committed_steps"] > g["recipe_steps"] and g["committed_batch"] >= g["batch_size"]
        ),
    ),
    Claim(
        "Greedy decoding soon repeats itself: its last 15 tokens hold only "
        "{greedy_tail_distinct} distinct token(s).",
        lambda g: g["greedy_tail_distinct"] <= 3,
    ),
    Claim(
        "After these three prompts, a top-p of 0.9 keeps between {nucleus_smallest} and "
        "{nucleus_largest} tokens, where top-k keeps 20 whatever the context.",
        lambda g: 1 <= g["nucleus_smallest"] < g["nucleus_largest"],
    ),
]
