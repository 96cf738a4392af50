"""Validation messages by key, German (formal "Sie") first, English second."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "custom": {"de": "{text}", "en": "{text}"},
    "required": {"de": "Bitte geben Sie „{label}“ an.", "en": "Enter “{label}”."},
    "required_choice": {
        "de": "Bitte wählen Sie bei „{label}“ eine Antwort aus.",
        "en": "Select an answer for “{label}”.",
    },
    "required_confirm": {"de": "Bitte bestätigen Sie: {label}", "en": "Please confirm: “{label}”"},
    "too_long": {
        "de": "„{label}“ darf höchstens {max} Zeichen lang sein.",
        "en": "“{label}” must be {max} characters or fewer.",
    },
    "date_invalid": {
        "de": "„{label}“ muss ein gültiges Datum sein, zum Beispiel 27.03.2024.",
        "en": "“{label}” must be a real date, for example 27.03.2024.",
    },
    "date_future": {
        "de": "„{label}“ darf nicht in der Zukunft liegen.",
        "en": "“{label}” must be today or in the past.",
    },
    "date_before": {
        "de": "„{label}“ darf nicht vor „{other}“ liegen.",
        "en": "“{label}” must not be before “{other}”.",
    },
    "date_too_old": {
        "de": "„{label}“ darf nicht mehr als {years} Jahre zurückliegen. Bitte prüfen Sie das Jahr.",
        "en": "“{label}” must not be more than {years} years ago. Check the year.",
    },
    "min_age": {
        "de": "Sie müssen mindestens {years} Jahre alt sein.",
        "en": "You must be at least {years} years old.",
    },
    "char_control": {
        "de": "„{label}“ enthält ein unsichtbares Steuerzeichen ({code}). Bitte geben Sie die "
        "Angabe ohne dieses Zeichen ein.",
        "en": "“{label}” contains an invisible control character ({code}). Enter it without "
        "this character.",
    },
    "char_unprintable": {
        "de": "„{label}“ enthält das Zeichen „{char}“ ({code}), das in Bescheiden nicht gedruckt "
        "werden kann. Bitte lassen Sie es weg oder ersetzen Sie es.",
        "en": "“{label}” contains the character “{char}” ({code}), which cannot be printed on "
        "notices. Leave it out or replace it.",
    },
    "integer_invalid": {
        "de": "„{label}“ muss eine ganze Zahl sein.",
        "en": "“{label}” must be a whole number.",
    },
    "integer_min": {
        "de": "„{label}“ muss mindestens {min} sein.",
        "en": "“{label}” must be {min} or more.",
    },
    "integer_max": {
        "de": "„{label}“ darf höchstens {max} sein.",
        "en": "“{label}” must be {max} or less.",
    },
    "choice_invalid": {
        "de": "Bitte wählen Sie bei „{label}“ eine der angebotenen Antworten.",
        "en": "Select one of the options for “{label}”.",
    },
    "email_invalid": {
        "de": "Bitte geben Sie eine gültige E-Mail-Adresse an, zum Beispiel name@beispiel.de.",
        "en": "Enter an email address in the correct format, like name@example.com.",
    },
    "phone_invalid": {
        "de": "Bitte geben Sie eine gültige Telefonnummer an, zum Beispiel 03535 482253.",
        "en": "Enter a telephone number, like 03535 482253.",
    },
    "postal_code_invalid": {
        "de": "Die Postleitzahl muss aus genau 5 Ziffern bestehen, zum Beispiel 04916.",
        "en": "The postcode must be exactly 5 digits, like 04916.",
    },
    "iban_invalid": {
        "de": "Die IBAN ist nicht gültig. Bitte prüfen Sie sie, zum Beispiel DE89 3704 0044 0532 0130 00.",
        "en": "The IBAN is not valid. Please check it, like DE89 3704 0044 0532 0130 00.",
    },
    "iban_not_sepa": {
        "de": "Die IBAN muss zu einem Konto im SEPA-Raum gehören.",
        "en": "The IBAN must belong to an account in the SEPA area.",
    },
    "bic_invalid": {
        "de": "Die BIC ist nicht gültig (8 oder 11 Zeichen, zum Beispiel WELADED1EES).",
        "en": "The BIC is not valid (8 or 11 characters, like WELADED1EES).",
    },
    "decimal_invalid": {
        "de": "„{label}“ muss ein Betrag sein, zum Beispiel 1.234,56.",
        "en": "“{label}” must be an amount, like 1,234.56.",
    },
    "decimal_places": {
        "de": "„{label}“ darf höchstens {places} Nachkommastellen haben.",
        "en": "“{label}” must have at most {places} decimal places.",
    },
    "required_file": {
        "de": "Bitte laden Sie für „{label}“ mindestens eine Datei hoch.",
        "en": "Upload at least one file for “{label}”.",
    },
    "file_invalid": {
        "de": "Die Dateiangabe zu „{label}“ ist ungültig. Bitte laden Sie die Datei erneut hoch.",
        "en": "The file for “{label}” is not valid. Upload it again.",
    },
    "file_count": {
        "de": "Bei „{label}“ können Sie höchstens {max} Dateien hochladen.",
        "en": "You can upload at most {max} files for “{label}”.",
    },
    "group_min": {
        "de": "Bitte geben Sie bei „{label}“ mindestens {min} Eintrag/Einträge an.",
        "en": "Add at least {min} entries for “{label}”.",
    },
    "group_max": {
        "de": "Bei „{label}“ sind höchstens {max} Einträge möglich.",
        "en": "“{label}” allows at most {max} entries.",
    },
    "chip_invalid": {
        "de": "Die Chipnummer muss aus 15 Ziffern bestehen, zum Beispiel 276 0981 0000 1234.",
        "en": "The chip number must have 15 digits, like 276 0981 0000 1234.",
    },
    "chip_country": {
        "de": "Die Chipnummer muss mit einem Ländercode (001–899, Deutschland 276) oder einem Herstellercode (900–998) beginnen.",
        "en": "The chip number must start with a country code (001–899, Germany 276) or a manufacturer code (900–998).",
    },
    "chip_test": {
        "de": "Chipnummern mit 999 am Anfang sind Testchips. Bitte geben Sie die Nummer des Chips Ihres Hundes an.",
        "en": "Chip numbers starting with 999 are test chips. Enter the number of your dog's chip.",
    },
    "chip_taken": {
        "de": "Diese Chipnummer ist bereits für einen angemeldeten Hund erfasst. Bitte prüfen Sie die Nummer oder wenden Sie sich an die Stadt.",
        "en": "This chip number is already registered for a dog. Check the number or contact the town.",
    },
}


def render(key: str, lang: str, **params: object) -> str:
    entry = MESSAGES.get(key) or {"de": key, "en": key}
    return (entry.get(lang) or entry["de"]).format(**params)
