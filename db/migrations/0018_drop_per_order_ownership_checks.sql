-- Issue 6: payment.method_usable and delivery.address_usable (migration 0016) checked one (member, id) pair
-- each. Their only caller was orders.place_orders, which since migration 0017 asks the set-based
-- payment.methods_usable and delivery.addresses_usable once per batch, so they are dropped rather than kept
-- without a caller.
DROP FUNCTION IF EXISTS payment.method_usable(uuid, uuid);
DROP FUNCTION IF EXISTS delivery.address_usable(uuid, uuid);
