"""Decoding settings for campaign copy: the sampling parameters every piece is written with, the cooler
temperature of channels whose copy is mostly restated facts, and each channel's token budget per length.
`marketing.generation` binds these names on itself and reads them from there (tests and benchmarks set
`marketing.generation.MAX_NEW_TOKENS`), so this module only holds the values and the reasons for them.
"""

from __future__ import annotations

from marketing.models import Length

# Token budgets sit a little above each channel's character limit (about 4 characters a token): the
# parser trims a reply that is slightly over at a word boundary, and the grounding check flags the rest.
# Sampling keeps variants apart; the repetition penalty keeps small models out of loops. No n-gram ban:
# it would also forbid copying the product's own name, price or sizes from the prompt, which grounded
# copy must do.
SAMPLING = {
    "temperature": 0.7,
    "top_p": 0.9,
    "top_k": 50,
    "repetition_penalty": 1.15,
    "no_repeat_ngram_size": 0,
}
MAX_NEW_TOKENS = {
    "product_description": {Length.SHORT: 80, Length.MEDIUM: 140, Length.LONG: 220},
    "email": {Length.SHORT: 120, Length.MEDIUM: 180, Length.LONG: 260},
    "sms": {Length.SHORT: 40, Length.MEDIUM: 48, Length.LONG: 52},  # ~4 characters a token; 160 is the cap
    "social_post": {Length.SHORT: 70, Length.MEDIUM: 90, Length.LONG: 100},  # 280 characters and hashtags
    "ad_headline": {Length.SHORT: 14, Length.MEDIUM: 16, Length.LONG: 18},  # 40 characters after "Headline:"
}


# Channels whose copy is mostly restated facts sample cooler than SAMPLING's 0.7 (sms and social posts keep
# it). Measured with one campaign_bench run per setting (not repeated; run-to-run noise is several points) on
# Myntra products, banned phrases on: approvable pieces 35% -> 40%
# (product descriptions, 40 products), 17% -> 21% (email, 24), 79% -> 83% (ad headlines, 24); distinct-2
# fell 0.845 -> 0.759, 0.922 -> 0.878, 0.951 -> 0.927, with no duplicates.
CHANNEL_TEMPERATURE: dict[str, float] = {"product_description": 0.5, "email": 0.5, "ad_headline": 0.5}
