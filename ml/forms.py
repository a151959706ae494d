"""The dashboard's fine-tuning form. Hyperparameter bounds and defaults are read from the API's
HyperparametersSerializer, and the cleaned values go through it once more, so the dashboard and the API
accept exactly the same runs."""

from django import forms
from django.template.defaultfilters import filesizeformat
from rest_framework import serializers
from rest_framework.fields import empty

from ml.api.serializers import MAX_RECORDS, MIN_RECORDS, HyperparametersSerializer, TrainingRecordSerializer
from ml.models import ModelVersion, Purpose, TrainingDataset
from ml.selectors import model_version_list, serving_version
from storyfront import uploads

DATASET_MAX_BYTES = 20 * 1024 * 1024
MAX_TEXT_CHARS = TrainingRecordSerializer().fields["response"].max_length
# A file with hundreds of bad lines should not produce a page of hundreds of errors.
LINE_ERRORS_SHOWN = 10
# A .json file may hold a list or one object per line (told apart by its first character); any other name is
# read by its content.
SUFFIX_FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}

_HYPERPARAMETERS = HyperparametersSerializer().fields
# Numeric hyperparameters become form fields. The common ones show up front; every other one the serializer
# knows goes under "Advanced", so a setting added to the API appears here without a change to this form.
BASIC_HYPERPARAMETERS = tuple(
    name for name in ("epochs", "learning_rate", "batch_size", "max_steps") if name in _HYPERPARAMETERS
)
ADVANCED_HYPERPARAMETERS = tuple(
    name
    for name, spec in _HYPERPARAMETERS.items()
    if name not in BASIC_HYPERPARAMETERS
    and isinstance(spec, (serializers.IntegerField, serializers.FloatField))
)
HYPERPARAMETER_TEXT = {
    "epochs": ("Epochs", "Passes over the training records."),
    "learning_rate": ("Learning rate", ""),
    "batch_size": ("Batch size", ""),
    "max_steps": ("Max steps", "Optional cap on optimizer steps."),
    "grad_accum_steps": ("Gradient accumulation steps", "Batches summed before each optimizer step."),
    "max_seq_len": ("Max sequence length", "Longer records are truncated and counted."),
    "lora_r": ("LoRA rank", ""),
    "lora_alpha": ("LoRA alpha", ""),
    "lora_dropout": ("LoRA dropout", "0 trains fastest; 0.05 to 0.1 can help a small dataset that overfits."),
    "eval_fraction": ("Held-out fraction", "Share of records kept for evaluation."),
    "early_stopping_patience": (
        "Early-stopping patience",
        "Evaluations without improvement before stopping; 0 never stops early.",
    ),
    "seed": ("Seed", ""),
}


def _bounded(name: str) -> forms.Field:
    """A form field with the serializer's bounds; left blank, the serializer's default applies."""
    spec = _HYPERPARAMETERS[name]
    label, help_text = HYPERPARAMETER_TEXT.get(name, (name.replace("_", " ").capitalize(), ""))
    field_class = forms.FloatField if isinstance(spec, serializers.FloatField) else forms.IntegerField
    return field_class(
        label=label,
        required=False,
        min_value=spec.min_value,
        max_value=spec.max_value,
        initial=None if spec.default is empty else spec.default,
        help_text=help_text,
    )


class TrainingFileError(Exception):
    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


def parse_training_file(data: bytes, filename: str = "") -> list[dict]:
    """(prompt, response) records from JSON Lines, a JSON list or CSV with `prompt` and `response` columns.
    Every problem is reported with its line (or record) number; a file with any bad record is refused whole,
    because silently training on part of a file is worse than asking for a fixed one."""
    try:
        text = uploads.decode_upload(data, detect_charset=False)
    except uploads.UploadError as exc:
        raise TrainingFileError([f"Line {exc.line}: the file is not UTF-8 text."]) from None
    start = text.lstrip()[:1]
    if not start:
        raise TrainingFileError(["The file is empty."])
    file_format = uploads.detect_format(filename, text, suffixes=SUFFIX_FORMATS, refuse_other_suffixes=False)
    if file_format == "csv":
        items = _csv_items(text)
    elif start == "[":
        items = _json_list_items(text)
    else:
        items = _json_lines_items(text)

    records, problems = [], []
    for where, item, problem in items:
        problem = problem or _record_problem(item)
        if problem:
            problems.append(f"{where}: {problem}")
        else:
            records.append({"prompt": item["prompt"], "response": item["response"]})
        if len(records) > MAX_RECORDS:
            raise TrainingFileError(
                [f"The file has more than {MAX_RECORDS:,} records; split it or sample it."]
            )
    if problems:
        shown = problems[:LINE_ERRORS_SHOWN]
        if len(problems) > len(shown):
            shown.append(f"…and {len(problems) - len(shown)} more records with problems.")
        raise TrainingFileError(shown)
    if len(records) < MIN_RECORDS:
        plural = "s" if len(records) != 1 else ""
        message = (
            f"The file has {len(records)} record{plural}; at least {MIN_RECORDS} are needed to train and hold some "
            "out for evaluation."
        )
        raise TrainingFileError([message])
    return records


# Each reader yields (where, item, problem): where the record is in the file for messages, the parsed item,
# and a problem already found while reading it (else "").


def _json_problem(error: uploads.UploadError) -> str:
    return f"not valid JSON ({error.detail} at column {error.column})."


def _json_lines_items(text: str):
    for number, item, error in uploads.iter_json_rows(text, fmt="jsonl"):
        yield f"Line {number}", item, _json_problem(error) if error else ""


def _json_list_items(text: str):
    try:
        rows = list(uploads.iter_json_rows(text))
    except uploads.UploadError as exc:
        if exc.code == "not_a_list":
            yield "Line 1", None, "expected a list of records or one JSON object per line."
        else:
            yield f"Line {exc.line}", None, _json_problem(exc)
        return
    for number, item, _ in rows:
        yield f"Record {number}", item, ""


def _csv_items(text: str):
    rows = uploads.iter_csv_rows(text)
    try:
        first = next(rows, None)
    except uploads.UploadError as exc:
        yield "Line 1", None, f"not valid CSV ({exc.detail})."
        return
    header = [cell.strip().lower() for cell in first.cells] if first else []
    if "prompt" not in header or "response" not in header:
        found = ", ".join(f"“{h}”" for h in header if h) or "nothing"
        yield (
            "Line 1",
            None,
            f"a CSV file needs a header row with “prompt” and “response” columns (found {found}).",
        )
        return
    prompt_at, response_at = header.index("prompt"), header.index("response")
    try:
        for _, line, row in rows:
            if not any(cell.strip() for cell in row):
                continue
            yield (
                f"Line {line}",
                {
                    "prompt": row[prompt_at] if prompt_at < len(row) else None,
                    "response": row[response_at] if response_at < len(row) else None,
                },
                "",
            )
    except uploads.UploadError as exc:
        yield f"Line {exc.line}", None, f"not valid CSV ({exc.detail})."


def _record_problem(item) -> str:
    if not isinstance(item, dict):
        return "expected an object with “prompt” and “response”."
    for key in ("prompt", "response"):
        value = item.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            return f"no {key}."
        if not isinstance(value, str):
            return f"the {key} must be text, not {type(value).__name__}."
        if len(value) > MAX_TEXT_CHARS:
            return f"the {key} is longer than {MAX_TEXT_CHARS:,} characters."
    return ""


class VersionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: ModelVersion) -> str:
        if obj.kind == ModelVersion.Kind.BASE:
            return f"{obj.name} (base model)"
        return f"{obj.name} ({obj.get_kind_display()}, {obj.get_purpose_display().lower()})"


class DatasetChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: TrainingDataset) -> str:
        return f"{obj.name} ({obj.record_count:,} records, {obj.get_purpose_display().lower()})"


class FinetuneForm(forms.Form):
    purpose = forms.ChoiceField(
        label="Purpose",
        choices=Purpose.choices,
        initial=Purpose.COPY,
        widget=forms.RadioSelect,
    )
    name = forms.CharField(
        label="Run name",
        max_length=200,
        required=False,
        help_text="Optional; the new version gets this name. Defaults to the purpose and the date.",
    )
    start_from = VersionChoiceField(
        label="Start from",
        queryset=ModelVersion.objects.none(),
        required=False,
        empty_label="The version serving this purpose (recommended)",
    )
    dataset_file = forms.FileField(
        label="Training file",
        required=False,
        help_text='JSON Lines (one {"prompt": …, "response": …} object per line) or CSV with “prompt” and '
        f"“response” columns. At least {MIN_RECORDS} records.",
    )
    dataset = DatasetChoiceField(
        label="Or a stored dataset",
        queryset=TrainingDataset.objects.none(),
        required=False,
        empty_label="None: use the uploaded file",
    )
    method = forms.ChoiceField(
        label="Method",
        choices=[("lora", "LoRA adapter"), ("full", "Full fine-tune")],
        initial="lora",
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, merchant, **kwargs):
        super().__init__(*args, **kwargs)
        self.merchant = merchant
        for name in BASIC_HYPERPARAMETERS + ADVANCED_HYPERPARAMETERS:
            self.fields[name] = _bounded(name)
        self.fields["start_from"].queryset = model_version_list(merchant=merchant).filter(
            ModelVersion.trainable_filter()
        )
        # Records can be megabytes; the choice list needs names and counts only.
        self.fields["dataset"].queryset = TrainingDataset.objects.filter(merchant=merchant).defer("records")

    def basic_fields(self):
        return [self[name] for name in BASIC_HYPERPARAMETERS]

    def advanced_fields(self):
        return [self[name] for name in ADVANCED_HYPERPARAMETERS]

    def advanced_has_errors(self) -> bool:
        return any(self[name].errors for name in ADVANCED_HYPERPARAMETERS)

    def clean_dataset_file(self):
        upload = self.cleaned_data.get("dataset_file")
        if upload is None:
            return None
        try:
            uploads.check_size(upload.size, DATASET_MAX_BYTES)
        except uploads.UploadTooLarge:
            raise forms.ValidationError(
                f"The file is {filesizeformat(upload.size)}; the limit is {filesizeformat(DATASET_MAX_BYTES)}.",
                code="too_large",
            ) from None
        try:
            self.cleaned_data["records"] = parse_training_file(upload.read(), upload.name)
        except TrainingFileError as exc:
            raise forms.ValidationError(exc.messages, code="invalid_records") from None
        return upload

    def clean(self):
        cleaned = super().clean()
        purpose = cleaned.get("purpose")
        upload, dataset = cleaned.get("dataset_file"), cleaned.get("dataset")
        if upload is not None and dataset is not None:
            self.add_error("dataset", "Upload a file or pick a stored dataset, not both.")
        elif upload is None and dataset is None and "dataset_file" not in self.errors:
            self.add_error("dataset_file", "Upload a training file or pick a stored dataset.")
        elif dataset is not None and purpose and dataset.purpose != purpose:
            self.add_error(
                "dataset",
                f"This dataset was collected for {dataset.get_purpose_display().lower()}; pick one for "
                f"{Purpose(purpose).label.lower()} or upload a file.",
            )

        if purpose and cleaned.get("start_from") is None:
            cleaned["start_from"] = serving_version(merchant=self.merchant, purpose=purpose)
            if cleaned["start_from"] is None:
                raise forms.ValidationError(
                    "No base model is registered yet, so there is nothing to fine-tune. An operator runs "
                    "`python manage.py ml_provision` once to install one."
                )
            elif refusal := cleaned["start_from"].training_refusal():
                self.add_error("start_from", f"The serving version cannot be trained: {refusal}")

        hyperparameters = {"method": cleaned.get("method") or "lora"}
        for name in BASIC_HYPERPARAMETERS + ADVANCED_HYPERPARAMETERS:
            if cleaned.get(name) is not None:
                hyperparameters[name] = cleaned[name]
        serializer = HyperparametersSerializer(data=hyperparameters)
        if serializer.is_valid():
            cleaned["hyperparameters"] = dict(serializer.validated_data)
        else:
            for name, errors in serializer.errors.items():
                self.add_error(name if name in self.fields else None, errors)
        return cleaned
