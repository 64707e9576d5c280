-- Member service (schema member): accounts and credentials. Sessions live in Redis.
CREATE SCHEMA IF NOT EXISTS member;

CREATE TABLE member.members (
    id                  uuid PRIMARY KEY,
    email               text NOT NULL,
    password_hash       text NOT NULL,
    name                text NOT NULL,
    role                text NOT NULL CHECK (role IN ('BUYER', 'SELLER')),
    phone               text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT members_email_lower CHECK (email = lower(email))
);

CREATE UNIQUE INDEX members_email_key ON member.members (email);
