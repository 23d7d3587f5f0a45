"""Billing services: the rules of checkout, payment, renewal, dunning, cancellation and refunds.
Views, webhooks, bus consumers and jobs all call these; none of them sets a status itself."""
