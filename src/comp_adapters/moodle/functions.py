"""The web-service functions each operation needs in the token's service.

The adapter checks them before anything is read or written
(:meth:`~comp_adapters.moodle.reader.SiteReader.require`), so a service missing one gets
one error naming every function to add, not a failure half-way.
"""

from __future__ import annotations

from collections.abc import Mapping

from comp_adapters.moodle.wire import RateIn

FIND_FUNCTIONS = (
    "core_competency_list_competency_frameworks",
    "core_competency_list_competencies",
)
PULL_FUNCTIONS = (
    *FIND_FUNCTIONS,
    "core_competency_get_scale_values",
    "tool_lp_data_for_related_competencies_section",
)
USER_FUNCTIONS = ("core_user_get_users_by_field",)
EVIDENCE_FUNCTIONS = ("tool_lp_data_for_user_competency_summary",)
PUSH_FUNCTIONS = (
    "core_competency_list_competency_frameworks",
    "core_competency_create_competency_framework",
    "core_competency_update_competency_framework",
    "core_competency_get_scale_values",
    "core_competency_list_competencies",
    "core_competency_create_competency",
    "core_competency_update_competency",
    "core_competency_delete_competency",
    "core_competency_set_parent_competency",
)
RELATED_FUNCTIONS = (
    "core_competency_add_related_competency",
    "core_competency_remove_related_competency",
    "tool_lp_data_for_related_competencies_section",
)
COURSE_FUNCTIONS = (
    "core_competency_list_course_competencies",
    "core_competency_add_competency_to_course",
    "core_competency_remove_competency_from_course",
    "core_competency_set_course_competency_ruleoutcome",
)
RATE_FUNCTIONS: Mapping[str, tuple[str, ...]] = {
    "site": ("core_competency_grade_competency", "tool_lp_data_for_user_competency_summary"),
    "course": (
        "core_competency_grade_competency_in_course",
        "tool_lp_data_for_user_competency_summary_in_course",
        "core_competency_list_course_competencies",
    ),
    "plan": (
        "core_competency_grade_competency_in_plan",
        "core_competency_list_user_plans",
        "core_competency_list_plan_competencies",
    ),
}


def required_functions(command: str, *, rate_in: RateIn = "site") -> tuple[str, ...]:
    """The web-service functions a CLI command needs in the token's service, in order:
    ``push``, ``pull``, ``pull-evidence`` or ``rate`` (then by ``rate_in``). Optional ones
    (course links, cross-references, batching) are named in the documentation."""
    table: Mapping[str, tuple[str, ...]] = {
        "push": ("core_webservice_get_site_info", *PUSH_FUNCTIONS),
        "pull": ("core_webservice_get_site_info", *PULL_FUNCTIONS),
        "pull-evidence": (
            "core_webservice_get_site_info",
            *PULL_FUNCTIONS,
            *USER_FUNCTIONS,
            *EVIDENCE_FUNCTIONS,
        ),
        "rate": (
            "core_webservice_get_site_info",
            *FIND_FUNCTIONS,
            *USER_FUNCTIONS,
            *RATE_FUNCTIONS[rate_in],
        ),
    }
    return tuple(dict.fromkeys(table[command]))
