"""Dashboard forms for the copy studio: campaigns, the brand voice and a piece's inline edit.

They only shape browser input into the keyword arguments of the marketing services; the services validate what
may happen (product ownership, list limits, channel fields) and their ValidationErrors are put back on the
form with `add_service_errors`."""

from django import forms
from django.core.exceptions import ValidationError

from catalog.selectors import brand_list, category_list, product_list
from marketing.campaigns.services import MAX_CAMPAIGN_PRODUCTS
from marketing.models import MAX_VARIANTS, Campaign, Channel, Length
from marketing.workflow import MAX_FIELD_CHARS
from ml.engine.grounding import CHANNEL_FIELDS, CHANNEL_LIMITS
from profiles.models import Segment

LANGUAGES = (
    ("en", "English"),
    ("de", "German"),
    ("fr", "French"),
    ("es", "Spanish"),
    ("it", "Italian"),
    ("nl", "Dutch"),
    ("pt", "Portuguese"),
    ("sv", "Swedish"),
    ("pl", "Polish"),
    ("hi", "Hindi"),
)
PRODUCT_MODES = (("pick", "Pick products"), ("filter", "Use a catalog filter"))
FILTER_FIELDS = {
    "filter_search": "search",
    "filter_category": "category",
    "filter_brand": "brand",
    "filter_min_price": "min_price",
    "filter_max_price": "max_price",
}

# What each channel calls its fields, in the order the channel has them (grounding's CHANNEL_FIELDS).
FIELD_LABELS = {
    "product_description": {"title": "Title", "body": "Description"},
    "email": {"subject": "Subject line", "body": "Email body"},
    "sms": {"body": "Message"},
    "social_post": {"body": "Post", "hashtags": "Hashtags"},
    "ad_headline": {"body": "Headline"},
}


def add_service_errors(form: forms.Form, error: ValidationError, *, field_map: dict | None = None) -> None:
    """Put a service's ValidationError on the form: on the field it names when the form has it, else on top."""
    field_map = field_map or {}
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for name, messages in error.message_dict.items():
        target = field_map.get(name, name)
        form.add_error(target if target in form.fields else None, messages)


class SegmentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Segment) -> str:
        return f"{obj.name} ({obj.member_count:,})"


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    goal = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What the copy should achieve, e.g. “launch the spring range to returning customers”.",
    )
    channel = forms.ChoiceField(
        choices=Channel.choices, widget=forms.RadioSelect, initial=Channel.PRODUCT_DESCRIPTION
    )
    product_mode = forms.ChoiceField(
        label="Products",
        choices=PRODUCT_MODES,
        widget=forms.RadioSelect,
        initial="pick",
    )
    products = forms.ModelMultipleChoiceField(queryset=None, required=False)
    filter_search = forms.CharField(
        label="Words",
        required=False,
        max_length=200,
        help_text="Every word must appear in the SKU, title, brand or description.",
    )
    filter_category = forms.ChoiceField(label="Category", required=False)
    filter_brand = forms.ChoiceField(label="Brand", required=False)
    filter_min_price = forms.DecimalField(
        label="Min price", required=False, min_value=0, max_digits=12, decimal_places=2
    )
    filter_max_price = forms.DecimalField(
        label="Max price", required=False, min_value=0, max_digits=12, decimal_places=2
    )
    target_segment = SegmentChoiceField(
        label="Customer segment",
        queryset=None,
        required=False,
        empty_label="Everyone",
        to_field_name="slug",
        help_text="Which customers the campaign is for.",
    )
    audience = forms.CharField(
        label="Audience",
        required=False,
        max_length=200,
        help_text="Who the copy is for, in words, e.g. “lapsed customers”. Leave empty for your brand voice's.",
    )
    tone = forms.CharField(
        required=False,
        max_length=100,
        help_text="Adds to your brand voice for this campaign, e.g. “festive”.",
    )
    length = forms.ChoiceField(choices=Length.choices, widget=forms.RadioSelect, initial=Length.MEDIUM)
    language = forms.ChoiceField(choices=LANGUAGES, initial="en")
    variants_per_product = forms.IntegerField(
        label="Variants per product",
        min_value=1,
        max_value=MAX_VARIANTS,
        initial=1,
        help_text=f"1 to {MAX_VARIANTS}; each is written separately so you can pick the best.",
    )
    publish_at = forms.DateTimeField(
        label="Publish automatically from",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        help_text="Optional. From then on, approved pieces are published without a click.",
    )

    def __init__(self, *args, merchant, campaign: Campaign | None = None, **kwargs):
        if campaign is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(campaign)
        super().__init__(*args, **kwargs)
        self.merchant = merchant
        self.campaign = campaign
        self.fields["products"].queryset = product_list(merchant=merchant)
        # Only the merchant's own segments can be chosen (another merchant's slug is "not one of the choices").
        self.fields["target_segment"].queryset = Segment.objects.filter(merchant=merchant).order_by(
            "kind", "name"
        )
        self.fields["filter_category"].choices = [("", "Any category")] + [
            (c.slug, c.name) for c in category_list(merchant=merchant)
        ]
        self.fields["filter_brand"].choices = [("", "Any brand")] + [
            (b, b) for b in brand_list(merchant=merchant)
        ]
        language = (campaign.language if campaign else None) or "en"
        if language not in dict(LANGUAGES):
            self.fields["language"].choices = [*LANGUAGES, (language, language)]
        self.channel_locked = bool(campaign and campaign.piece_count)
        if self.channel_locked:
            self.fields["channel"].disabled = True
            self.fields[
                "channel"
            ].help_text = "Copy has been written for this channel, so it can no longer change."

    @staticmethod
    def initial_for(campaign: Campaign) -> dict:
        product_ids = [p.pk for p in campaign.products.all()]
        current_filter = campaign.product_filter or {}
        initial = {
            "name": campaign.name,
            "goal": campaign.goal,
            "channel": campaign.channel,
            "product_mode": "pick" if product_ids or not current_filter else "filter",
            "products": product_ids,
            "audience": campaign.audience,
            "target_segment": campaign.target_segment.slug if campaign.target_segment else None,
            "tone": campaign.tone,
            "length": campaign.length,
            "language": campaign.language,
            "variants_per_product": campaign.variants_per_product,
            "publish_at": campaign.publish_at,
        }
        for field, key in FILTER_FIELDS.items():
            initial[field] = current_filter.get(key, "")
        return initial

    def selected_products(self):
        """The products the picker shows as chosen: the posted ones on a bound form, else the initial ones."""
        if self.is_bound:
            ids = [v for v in self.data.getlist("products") if str(v).isdigit()]
        else:
            ids = self.initial.get("products") or []
        return list(product_list(merchant=self.merchant).filter(pk__in=ids).order_by("title", "id"))

    def clean(self):
        data = super().clean()
        mode = data.get("product_mode")
        if mode == "pick":
            if not data.get("products"):
                self.add_error("products", "Pick at least one product, or switch to a catalog filter.")
            elif len(data["products"]) > MAX_CAMPAIGN_PRODUCTS:
                self.add_error("products", f"At most {MAX_CAMPAIGN_PRODUCTS:,} products per campaign.")
        elif mode == "filter":
            if not any(data.get(field) not in (None, "") for field in FILTER_FIELDS):
                self.add_error(
                    None, "Give at least one catalog filter (words, category, brand or a price range)."
                )
            low, high = data.get("filter_min_price"), data.get("filter_max_price")
            if low is not None and high is not None and low > high:
                self.add_error("filter_max_price", "The max price is below the min price.")
        return data

    def product_filter(self) -> dict:
        data = self.cleaned_data
        return {
            key: str(data[field]) for field, key in FILTER_FIELDS.items() if data.get(field) not in (None, "")
        }

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        picking = data["product_mode"] == "pick"
        kwargs = {
            "name": data["name"].strip(),
            "goal": data["goal"].strip(),
            "audience": data["audience"].strip(),
            "target_segment": data["target_segment"],
            "tone": data["tone"].strip(),
            "length": data["length"],
            "language": data["language"],
            "variants_per_product": data["variants_per_product"],
            "publish_at": data["publish_at"],
            "products": list(data["products"]) if picking else [],
            "product_filter": {} if picking else self.product_filter(),
        }
        if not self.channel_locked:
            kwargs["channel"] = data["channel"]
        return kwargs


def _split_items(text: str) -> list[str]:
    """Commas or new lines separate items."""
    return [item.strip() for line in (text or "").splitlines() for item in line.split(",") if item.strip()]


def _split_lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _split_paragraphs(text: str) -> list[str]:
    """Examples are separated by a blank line, so one example may span several lines."""
    blocks, current = [], []
    for line in (text or "").splitlines():
        if line.strip():
            current.append(line.rstrip())
        elif current:
            blocks.append("\n".join(current))
            current = []
    if current:
        blocks.append("\n".join(current))
    return blocks


class BrandVoiceForm(forms.Form):
    tone_words = forms.CharField(
        label="Tone words",
        required=False,
        max_length=2000,
        help_text="Separated by commas, e.g. warm, playful, concise.",
    )
    audience = forms.CharField(
        required=False,
        max_length=500,
        help_text="Who you write for, e.g. “outdoor families who buy to last”.",
    )
    do_list = forms.CharField(
        label="Always",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One rule per line.",
    )
    dont_list = forms.CharField(
        label="Never",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One rule per line.",
    )
    banned_words = forms.CharField(
        label="Banned words",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Separated by commas or lines. A piece that uses one cannot be approved until it is edited.",
    )
    examples = forms.CharField(
        label="Example texts",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="A few texts in your voice. Leave an empty line between examples.",
    )

    @staticmethod
    def initial_for(voice) -> dict:
        if voice is None:
            return {}
        return {
            "tone_words": ", ".join(voice.tone_words),
            "audience": voice.audience,
            "do_list": "\n".join(voice.do_list),
            "dont_list": "\n".join(voice.dont_list),
            "banned_words": ", ".join(voice.banned_words),
            "examples": "\n\n".join(voice.examples),
        }

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "tone_words": _split_items(data["tone_words"]),
            "audience": data["audience"],
            "do_list": _split_lines(data["do_list"]),
            "dont_list": _split_lines(data["dont_list"]),
            "banned_words": _split_items(data["banned_words"]),
            "examples": _split_paragraphs(data["examples"]),
        }


class ContentEditForm(forms.Form):
    """The channel's fields of one piece, nothing else (an SMS has only a message)."""

    def __init__(self, *args, piece, **kwargs):
        channel = piece.campaign.channel
        kwargs.setdefault("initial", {name: getattr(piece, name) for name in CHANNEL_FIELDS[channel]})
        kwargs.setdefault("prefix", f"piece-{piece.pk}")
        super().__init__(*args, **kwargs)
        labels = FIELD_LABELS[channel]
        for name in CHANNEL_FIELDS[channel]:
            long_text = name == "body" and channel not in ("sms", "ad_headline")
            widget = (
                forms.Textarea(attrs={"rows": 6 if long_text else 2}) if name == "body" else forms.TextInput()
            )
            widget.attrs.update({"maxlength": MAX_FIELD_CHARS[name], "data-count-chars": ""})
            channel_max = CHANNEL_LIMITS[channel].get(name, {}).get("max_chars")
            if channel_max:
                widget.attrs["data-limit"] = channel_max
            self.fields[name] = forms.CharField(
                label=labels.get(name, name.capitalize()),
                required=False,
                strip=False,
                max_length=MAX_FIELD_CHARS[name],
                widget=widget,
            )


class ReviewFilterForm(forms.Form):
    """The review queue's filters. Unknown values are dropped, never an error page; with no status given the
    queue shows what waits for review."""

    STATUS_CHOICES = (
        ("in_review", "To review"),
        ("approved", "Approved"),
        ("published", "Published"),
        ("rejected", "Rejected"),
        ("draft", "Draft"),
        ("all", "All"),
    )
    FLAG_CHOICES = (("", "Any checks"), ("flagged", "Flagged"), ("passing", "Passing every check"))
    DEFAULT_PER_PAGE = 25
    PER_PAGE_CHOICES = (
        ("25", "25 per page"),
        ("50", "50 per page"),
        ("100", "100 per page"),
        ("200", "200 per page"),
    )

    campaign = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    status = forms.ChoiceField(required=False, choices=STATUS_CHOICES)
    channel = forms.ChoiceField(required=False, choices=(("", "All channels"), *Channel.choices))
    flag = forms.ChoiceField(required=False, choices=FLAG_CHOICES)
    per_page = forms.TypedChoiceField(required=False, choices=PER_PAGE_CHOICES, coerce=int, empty_value=None)

    def __init__(self, *args, campaigns: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].choices = [("", "All campaigns")] + [
            (str(c["id"]), c["name"]) for c in campaigns
        ]

    def filters(self) -> dict:
        """Valid values only: campaign (id or None), status ("all" or one status), channel, flag, per_page."""
        self.is_valid()  # invalid fields are left out of cleaned_data, so they fall back to their default
        data = self.cleaned_data
        return {
            "campaign": data.get("campaign"),
            "status": data.get("status") or "in_review",
            "channel": data.get("channel") or "",
            "flag": data.get("flag") or "",
            "per_page": data.get("per_page") or self.DEFAULT_PER_PAGE,
        }
