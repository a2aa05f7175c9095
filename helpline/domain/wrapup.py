"""The counsellor's wrap-up form: closed lists so that statistics stay comparable."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ExploitationForm(StrEnum):
    CRIMINAL = "criminal"
    SEXUAL = "sexual"
    LABOUR = "labour"
    OTHER = "other"
    UNKNOWN = "unknown"


class AgeBand(StrEnum):
    UNDER_12 = "under_12"
    AGE_12_15 = "12_15"
    AGE_16_17 = "16_17"
    AGE_18_23 = "18_23"
    OVER_23 = "over_23"
    UNKNOWN = "unknown"


class Referral(StrEnum):
    NONE = "none"
    CARE = "care"
    POLICE = "police"
    LABOUR_INSPECTORATE = "labour_inspectorate"
    OTHER = "other"


@dataclass(frozen=True)
class WrapUp:
    form: ExploitationForm
    age_band: AgeBand
    referral: Referral

    def to_fields(self) -> dict[str, str]:
        return {
            "wrapup_form": self.form.value,
            "wrapup_age_band": self.age_band.value,
            "wrapup_referral": self.referral.value,
        }
