"""Buyer payment and operator refund endpoints (being written)."""
from flask_smorest import Blueprint

blp = Blueprint("payments", __name__, url_prefix="/api/v1", description="Payments and refunds")
