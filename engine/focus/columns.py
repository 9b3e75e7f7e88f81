"""The columns of a FOCUS 1.0 export: every column the specification defines, then unimeter's own ``x_`` columns.

FOCUS 1.0 defines 43 columns; an export carries all of them (a column the data cannot fill is null where the
specification allows it), in alphabetical order as the specification lists them, and custom columns after them with
the ``x_`` prefix it reserves for them (Column Naming and Ordering). Each column has one kind, which decides how a
value is written: a string, a decimal (money and quantities, exact) or a date-time (UTC, whole seconds).
"""

from __future__ import annotations

from typing import Literal

FOCUS_VERSION = "1.0"
"""The FOCUS release the export conforms to: the one the FinOps Foundation's ``focus-validator`` 1.0.0 checks."""

Kind = Literal["string", "decimal", "datetime"]

FOCUS_COLUMNS: dict[str, Kind] = {
    "AvailabilityZone": "string",
    "BilledCost": "decimal",
    "BillingAccountId": "string",
    "BillingAccountName": "string",
    "BillingCurrency": "string",
    "BillingPeriodEnd": "datetime",
    "BillingPeriodStart": "datetime",
    "ChargeCategory": "string",
    "ChargeClass": "string",
    "ChargeDescription": "string",
    "ChargeFrequency": "string",
    "ChargePeriodEnd": "datetime",
    "ChargePeriodStart": "datetime",
    "CommitmentDiscountCategory": "string",
    "CommitmentDiscountId": "string",
    "CommitmentDiscountName": "string",
    "CommitmentDiscountStatus": "string",
    "CommitmentDiscountType": "string",
    "ConsumedQuantity": "decimal",
    "ConsumedUnit": "string",
    "ContractedCost": "decimal",
    "ContractedUnitPrice": "decimal",
    "EffectiveCost": "decimal",
    "InvoiceIssuerName": "string",
    "ListCost": "decimal",
    "ListUnitPrice": "decimal",
    "PricingCategory": "string",
    "PricingQuantity": "decimal",
    "PricingUnit": "string",
    "ProviderName": "string",
    "PublisherName": "string",
    "RegionId": "string",
    "RegionName": "string",
    "ResourceId": "string",
    "ResourceName": "string",
    "ResourceType": "string",
    "ServiceCategory": "string",
    "ServiceName": "string",
    "SkuId": "string",
    "SkuPriceId": "string",
    "SubAccountId": "string",
    "SubAccountName": "string",
    "Tags": "string",
}

CUSTOM_COLUMNS: dict[str, Kind] = {
    # The unified row's id: stable, so a revised figure replaces the earlier one (docs/money.md).
    "x_UnimeterId": "string",
    # This FOCUS row's own id: the unified id and the line's kind (#usage, #credit, #tax).
    "x_UnimeterLineId": "string",
    "x_UnimeterIntegration": "string",
    "x_MetricName": "string",
    "x_ModelId": "string",
    "x_UserId": "string",
    "x_UserEmail": "string",
    "x_Surface": "string",
}

COLUMNS: dict[str, Kind] = {**FOCUS_COLUMNS, **CUSTOM_COLUMNS}
"""Every column of an export, in the order written."""

SERVICE_CATEGORIES = (
    "AI and Machine Learning",
    "Analytics",
    "Business Applications",
    "Compute",
    "Databases",
    "Developer Tools",
    "Multicloud",
    "Identity",
    "Integration",
    "Internet of Things",
    "Management and Governance",
    "Media",
    "Migration",
    "Mobile",
    "Networking",
    "Security",
    "Storage",
    "Web",
    "Other",
)
"""FOCUS 1.0's allowed ServiceCategory values (the mapping schema's ``focus.service_category`` enum holds the same)."""
