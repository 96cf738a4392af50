"""Form engine: definitions as data, pure validation, one summary renderer (FIM Datenfelder)."""

from forms.loader import DefinitionError, load_definition, parse_definition
from forms.model import FieldDef, FormDefinition, StepDef
from forms.summary import summarize
from forms.validate import (
    FieldError,
    check_text,
    fields_to_render,
    prune,
    validate,
    validate_steps,
    visible_steps,
)

__all__ = [
    "DefinitionError",
    "FieldDef",
    "FieldError",
    "FormDefinition",
    "StepDef",
    "check_text",
    "fields_to_render",
    "load_definition",
    "parse_definition",
    "prune",
    "summarize",
    "validate",
    "validate_steps",
    "visible_steps",
]
