-- Product service (schema product): catalog, stock and the stock movement ledger.
-- Redis holds the stock gate (om:gate:<id>) and a product cache; PostgreSQL is the truth.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE SCHEMA IF NOT EXISTS product;

CREATE TABLE product.products (
    id          uuid PRIMARY KEY,
    seller_id   uuid NOT NULL,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    price       bigint NOT NULL CHECK (price >= 0),
    currency    text NOT NULL DEFAULT 'KRW' CHECK (currency ~ '^[A-Z]{3}$'),
    category    text NOT NULL,
    stock       bigint NOT NULL CHECK (stock >= 0),
    status      text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'INACTIVE')),
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Seller console: own products, newest first (keyset on created_at, id).
CREATE INDEX products_seller_created ON product.products (seller_id, created_at DESC, id DESC);
-- Search: substring and similarity on names and categories (pg_trgm), filters and keyset sorts on ACTIVE rows.
CREATE INDEX products_name_trgm ON product.products USING gin (lower(name) gin_trgm_ops);
CREATE INDEX products_category_trgm ON product.products USING gin (lower(category) gin_trgm_ops);
CREATE INDEX products_active_newest ON product.products (created_at DESC, id DESC) WHERE status = 'ACTIVE';
CREATE INDEX products_active_price ON product.products (price, id) WHERE status = 'ACTIVE';
CREATE INDEX products_active_category ON product.products (category, created_at DESC, id DESC) WHERE status = 'ACTIVE';

-- Every change of stock, in order. Invariant: per product, sum(delta) = products.stock.
CREATE TABLE product.stock_movements (
    id              bigserial PRIMARY KEY,
    product_id      uuid NOT NULL REFERENCES product.products (id),
    delta           bigint NOT NULL,
    resulting_stock bigint NOT NULL CHECK (resulting_stock >= 0),
    reason          text NOT NULL CHECK (reason IN ('INITIAL', 'SELLER_SET', 'SELLER_ADJUST', 'ORDER', 'ORDER_RELEASE')),
    order_id        uuid,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_movements_product ON product.stock_movements (product_id, id);

-- Idempotency-Key of POST /products, per seller.
CREATE TABLE product.idempotency_keys (
    seller_id    uuid NOT NULL,
    key          text NOT NULL,
    request_hash text NOT NULL,
    product_id   uuid NOT NULL REFERENCES product.products (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (seller_id, key)
);

-- Typo tolerance: "Galxy" should find "Galaxy" (word_similarity 0.5); pg_trgm's default threshold is 0.6.
-- Applies to new sessions of this database (the server's pool connects after migrating).
DO $$ BEGIN
    EXECUTE format('ALTER DATABASE %I SET pg_trgm.word_similarity_threshold = 0.45', current_database());
END $$;
