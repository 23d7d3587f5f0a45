"""Payment providers: the interface billing uses, and the registry that picks one from config."""
from portal.providers.base import (
    NOTIFICATION_KINDS,
    InvalidNotification,
    Notification,
    PaymentDeclined,
    PaymentProvider,
    ProviderError,
    RefundResult,
    RetryableProviderError,
    Transaction,
    WidgetRequest,
    request_id,
)
from portal.providers.cloudpayments import CloudPaymentsProvider, sandbox_from_config
from portal.providers.registry import (
    get_provider,
    provider_from_config,
    register,
    registered_names,
    required_setting,
)

register("cloudpayments", CloudPaymentsProvider)
register("sandbox", sandbox_from_config)

__all__ = [
    "NOTIFICATION_KINDS",
    "CloudPaymentsProvider",
    "InvalidNotification",
    "Notification",
    "PaymentDeclined",
    "PaymentProvider",
    "ProviderError",
    "RefundResult",
    "RetryableProviderError",
    "Transaction",
    "WidgetRequest",
    "get_provider",
    "provider_from_config",
    "register",
    "registered_names",
    "request_id",
    "required_setting",
]
