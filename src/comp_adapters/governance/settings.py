"""The ``[governance]`` table: the approval policy and carry-over, shared by the governance
commands and the project file (``comp-adapters.toml``) the sync engine reads."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from comp_adapters.governance.approvals import ApprovalPolicy


class GovernanceSettings(BaseModel):
    """The ``[governance]`` table of the project's config file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    required_approvals: int = Field(
        default=0,
        ge=0,
        le=100,
        description="approvals by identities other than the author a version needs before "
        "targets receive it",
    )
    carry_over: bool = Field(
        default=False,
        description="whether evaluation carries learners' standing over to replacing "
        "competencies (read where versions are evaluated)",
    )

    def policy(self) -> ApprovalPolicy:
        return ApprovalPolicy(required_approvals=self.required_approvals)
