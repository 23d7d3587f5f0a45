"""Fiscal receipts in the admin: the seller settings page (/admin/seller), audited, and the staff payment page
with the receipts of a payment and its refunds (/admin/payments/<id>)."""
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal import clock
from portal.admin import bp
from portal.admin.actions import audit
from portal.admin.labels import translated
from portal.admin.routes import get_or_404, staff
from portal.billing import fiscal, receipts, seller_settings
from portal.billing.errors import BillingError
from portal.extensions import db
from portal.models import FiscalReceipt, Payment, Plan


@bp.route("/seller", methods=["GET", "POST"])
def seller():
    plans = db.session.scalars(db.select(Plan).order_by(Plan.status, Plan.id)).all()
    form = seller_settings.current_form()
    if request.method == "POST":
        form = seller_settings.read_form(request.form, [plan.code for plan in plans])
        if form.ok:
            who = staff()
            changes = seller_settings.save(form, actor=who.actor)
            audit(who, "seller.update", "seller", 1, {"changes": changes})
            db.session.commit()
            flash(_("Seller settings saved: %(changes)s.", changes=", ".join(changes) or _("nothing changed")),
                  "success")
            return redirect(url_for(".seller"), code=303)
    return render_template("admin/seller.html", form=form, plans=plans, missing=translated(receipts.why_no_receipts()),
                           taxations=seller_settings.TAXATION_LABELS, vats=seller_settings.VAT_LABELS,
                           subjects=list(seller_settings.SUBJECT_LABELS.items()),
                           methods=list(seller_settings.METHOD_LABELS.items())
                           ), 422 if form.errors else 200


@bp.get("/payments/<int:payment_id>")
def payment(payment_id):
    """One payment for staff: what it paid, its refunds, and the fiscal receipt of each money movement."""
    row = get_or_404(Payment, payment_id)
    return render_template("admin/payment.html", payment=row, receipts=fiscal.receipts_of(row.id),
                           missing=translated(receipts.why_no_receipts()), deadline=fiscal.RECEIPT_DEADLINE,
                           now=clock.now())


@bp.post("/receipts/<int:receipt_id>/retry")
def receipt_retry(receipt_id):
    """Ask the till again for a receipt it refused; audited, sent by a job."""
    row = get_or_404(FiscalReceipt, receipt_id)
    try:
        who = staff()
        fiscal.request_retry(row.id, actor=who.actor)
        audit(who, "receipt.retry", "receipt", row.id, {"payment_id": row.payment_id, "failure": row.failure})
        db.session.commit()
    except BillingError as exc:
        db.session.rollback()
        flash(translated(exc.message), "error")
    else:
        flash(_("Receipt #%(id)s is asked of the till again.", id=receipt_id), "success")
    return redirect(url_for(".payment", payment_id=row.payment_id), code=303)
