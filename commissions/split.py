"""The exact split of a paid order, line by line, and its reversal when money goes back.

Every paid line is divided, in whole fen, between the supplier (its supply
cost), the distributors of the order's attribution chain (commission lines) and
the platform (the rest). Laws, for every line:

- ``paid = supplier + Σ commissions + platform``; nothing is negative;
- each commission is ``floor(base × rate / 10 000)``; what floors leave goes to
  the platform;
- ``Σ commissions ≤ floor(cap_bp × margin / 10 000)``. When the plan's rates
  would pay more (only possible with base ``"paid"``), every commission of the
  line is scaled down by the same factor, ``floor(amount × cap / total)``, and
  marked ``capped``; the fen this leaves also go to the platform;
- a line with no margin (paid = supply cost) pays no commission; a line paid
  below its supply cost is refused (:class:`SplitError`): the supplier is owed
  its supply cost and ChatShop books no negative share;
- only levels the plan pays (``≤ plan.levels``) earn; a chain member who is the
  buyer earns nothing unless ``plan.self_purchase_earns`` (the level is
  forfeited, see ``commissions.plans``); a commission of 0 fen makes no line.

Refunds (:func:`reverse_for_refund`) are shared pro rata between the supplier,
every commission line and the platform, to the fen, computed from the
cumulative refunded amount so any sequence of partial refunds reverses exactly
what one refund of the same total would (see ``commissions.prorata``).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from commissions.plans import BASE_PAID, PlanVersion
from commissions.prorata import allocate
from core.money import apply_rate, is_int


class SplitError(ValueError):
    """Input the split or a reversal refuses; the message says what and where."""


@dataclass(frozen=True)
class OrderLine:
    """One paid order line, as the split needs it (amounts in fen)."""

    line_id: int
    paid_fen: int
    supply_cost_fen: int
    product_id: int
    category_id: int | None = None

    @property
    def margin_fen(self) -> int:
        """What the line leaves after the supplier's cost."""
        return self.paid_fen - self.supply_cost_fen


@dataclass(frozen=True)
class ChainMember:
    """One member of the order's attribution chain snapshot (level 1 = direct upline)."""

    level: int
    distributor_id: int
    tier: str | None = None
    # False for a frozen or revoked distributor kept at their level (the "forfeit" rule):
    # the level pays nobody and the others keep theirs.
    earns: bool = True


@dataclass(frozen=True)
class CommissionLine:
    """What one distributor earns on one order line.

    ``amount_fen`` is ``floor(base_fen × rate_bp / 10 000)`` unless ``capped``,
    in which case the line's commissions were scaled down to fit the plan's cap.
    """

    line_id: int
    level: int
    distributor_id: int
    base_fen: int
    rate_bp: int
    amount_fen: int
    capped: bool = False


@dataclass(frozen=True)
class LineSplit:
    """Where every fen of one paid line goes."""

    line_id: int
    paid_fen: int
    supplier_fen: int
    commissions: tuple[CommissionLine, ...]
    platform_fen: int

    @property
    def commission_fen(self) -> int:
        """Total commission on the line."""
        return sum(line.amount_fen for line in self.commissions)


@dataclass(frozen=True)
class OrderSplit:
    """The split of every line of one order, in the order's line order."""

    lines: tuple[LineSplit, ...]

    @property
    def paid_fen(self) -> int:
        """What the buyer paid for the lines."""
        return sum(line.paid_fen for line in self.lines)

    @property
    def supplier_fen(self) -> int:
        """Owed to suppliers (their supply cost)."""
        return sum(line.supplier_fen for line in self.lines)

    @property
    def commission_fen(self) -> int:
        """Earned by distributors."""
        return sum(line.commission_fen for line in self.lines)

    @property
    def platform_fen(self) -> int:
        """Kept by the platform."""
        return sum(line.platform_fen for line in self.lines)

    @property
    def commission_lines(self) -> tuple[CommissionLine, ...]:
        """Every commission line of the order."""
        return tuple(c for line in self.lines for c in line.commissions)


@dataclass(frozen=True)
class CommissionReversal:
    """How much of one commission line a refund takes back."""

    line_id: int
    level: int
    distributor_id: int
    amount_fen: int


@dataclass(frozen=True)
class LineReversal:
    """How a refunded amount of one line is shared: ``refund = supplier + Σ commissions +
    platform``. ``commissions`` has one entry per commission line of the split, in the
    same order (an entry may be 0)."""

    line_id: int
    refund_fen: int
    supplier_fen: int
    commissions: tuple[CommissionReversal, ...]
    platform_fen: int

    @property
    def commission_fen(self) -> int:
        """Total commission reversed."""
        return sum(c.amount_fen for c in self.commissions)


def split_order(lines: Sequence[OrderLine], chain: Sequence[ChainMember], buyer_id: int,
                plan: PlanVersion) -> OrderSplit:
    """Split every line of a paid order between supplier, chain and platform.

    ``chain`` is the attribution chain snapshotted at payment, levels 1..n once
    each (n may exceed the plan's levels: the extra members earn nothing);
    ``buyer_id`` is the paying user. Raises :class:`SplitError` on bad input.
    """
    if not isinstance(plan, PlanVersion):
        raise SplitError("plan must be a PlanVersion")
    if not is_int(buyer_id):
        raise SplitError(f"buyer_id must be a whole number (got {buyer_id!r})")
    _check_chain(chain)
    if not lines:
        raise SplitError("an order has at least one line")
    seen: set[int] = set()
    for line in lines:
        _check_line(line)
        if line.line_id in seen:
            raise SplitError(f"line {line.line_id} appears twice")
        seen.add(line.line_id)
    return OrderSplit(tuple(_split_line(line, chain, buyer_id, plan) for line in lines))


def _split_line(line: OrderLine, chain: Sequence[ChainMember], buyer_id: int,
                plan: PlanVersion) -> LineSplit:
    margin = line.margin_fen
    base = line.paid_fen if plan.base == BASE_PAID else margin
    earners: list[tuple[ChainMember, int, int]] = []
    for member in sorted(chain, key=lambda m: m.level):
        if member.level > plan.levels:
            continue
        if not member.earns:
            continue
        if member.distributor_id == buyer_id and not plan.self_purchase_earns:
            continue  # forfeited: the level pays nobody, the others keep theirs
        rate = plan.rate_bp(member.level, product_id=line.product_id,
                            category_id=line.category_id, tier=member.tier)
        earners.append((member, rate, apply_rate(base, rate)))
    total = sum(amount for _, _, amount in earners)
    ceiling = apply_rate(margin, plan.cap_bp)
    capped = total > ceiling
    commissions = []
    for member, rate, amount in earners:
        # Same factor for every level keeps the plan's proportions between levels.
        paid = amount * ceiling // total if capped else amount
        if paid > 0:
            commissions.append(CommissionLine(line.line_id, member.level, member.distributor_id,
                                              base, rate, paid, capped))
    split = tuple(commissions)
    platform = margin - sum(c.amount_fen for c in split)
    return LineSplit(line.line_id, line.paid_fen, line.supply_cost_fen, split, platform)


def reversal_after(split: LineSplit, refunded_fen: int) -> LineReversal:
    """Everything reversed on a line once ``refunded_fen`` of it went back in total.

    Shares are reversed pro rata to the fen (``commissions.prorata.allocate``);
    the few fen rounding leaves go first to the shares whose next fen is due
    soonest, ties in the order platform, supplier, commissions by level.
    """
    _check_refund_amount("refunded_fen", refunded_fen, split)
    shares = (split.platform_fen, split.supplier_fen,
              *(c.amount_fen for c in split.commissions))
    platform, supplier, *commissions = allocate(shares, refunded_fen)
    return LineReversal(
        split.line_id, refunded_fen, supplier,
        tuple(CommissionReversal(c.line_id, c.level, c.distributor_id, amount)
              for c, amount in zip(split.commissions, commissions, strict=True)),
        platform,
    )


def reverse_for_refund(split: LineSplit, refunded_before_fen: int,
                       refund_fen: int) -> LineReversal:
    """What one refund of ``refund_fen`` on a line reverses, given that
    ``refunded_before_fen`` of the line had already been refunded.

    Computed as (reversed after all refunds so far) − (reversed before this one),
    so successive partial refunds never drift, never reverse more than remains,
    and a line refunded in full has every share reversed exactly.
    """
    _check_refund_amount("refunded_before_fen", refunded_before_fen, split)
    if not (is_int(refund_fen) and refund_fen > 0):
        raise SplitError(f"line {split.line_id}: refund_fen must be a whole number of fen, "
                         f"1 or more (got {refund_fen!r})")
    left = split.paid_fen - refunded_before_fen
    if refund_fen > left:
        raise SplitError(f"line {split.line_id}: a refund of {refund_fen} fen is more than "
                         f"the {left} fen left to refund")
    before = reversal_after(split, refunded_before_fen)
    after = reversal_after(split, refunded_before_fen + refund_fen)
    return LineReversal(
        split.line_id, refund_fen, after.supplier_fen - before.supplier_fen,
        tuple(CommissionReversal(a.line_id, a.level, a.distributor_id,
                                 a.amount_fen - b.amount_fen)
              for a, b in zip(after.commissions, before.commissions, strict=True)),
        after.platform_fen - before.platform_fen,
    )


def _check_refund_amount(name: str, value: object, split: LineSplit) -> None:
    if not (is_int(value) and 0 <= value <= split.paid_fen):
        raise SplitError(f"line {split.line_id}: {name} must be a whole number of fen from "
                         f"0 to the line's {split.paid_fen} fen (got {value!r})")


def _check_line(line: OrderLine) -> None:
    if not isinstance(line, OrderLine):
        raise SplitError(f"not an order line: {line!r}")
    where = f"line {line.line_id!r}"
    if not is_int(line.line_id):
        raise SplitError(f"{where}: line_id must be a whole number")
    for name in ("paid_fen", "supply_cost_fen"):
        value = getattr(line, name)
        if not (is_int(value) and value >= 0):
            raise SplitError(f"{where}: {name} must be a whole number of fen, 0 or more "
                             f"(got {value!r})")
    if not is_int(line.product_id):
        raise SplitError(f"{where}: product_id must be a whole number")
    if line.category_id is not None and not is_int(line.category_id):
        raise SplitError(f"{where}: category_id must be a whole number or None")
    if line.paid_fen < line.supply_cost_fen:
        raise SplitError(f"{where}: paid {line.paid_fen} fen is less than its supply cost "
                         f"{line.supply_cost_fen} fen; a line sold at a loss cannot be split")


def _check_chain(chain: Sequence[ChainMember]) -> None:
    for member in chain:
        if not isinstance(member, ChainMember):
            raise SplitError(f"not a chain member: {member!r}")
        if not (is_int(member.level) and is_int(member.distributor_id)):
            raise SplitError(f"chain member {member!r}: level and distributor_id must be "
                             "whole numbers")
        if member.tier is not None and not isinstance(member.tier, str):
            raise SplitError(f"chain member {member!r}: tier must be a text or None")
    levels = sorted(member.level for member in chain)
    if levels != list(range(1, len(chain) + 1)):
        raise SplitError(f"the chain must hold levels 1..{len(chain)} once each (got {levels})")
    distributors = [member.distributor_id for member in chain]
    if len(set(distributors)) != len(distributors):
        raise SplitError("a distributor appears twice in the chain (a cycle)")
