-- bench-mixed.sql: builds the benchmark table bench.<@target> with @n rows, 18 columns of every
-- kind an export has to get right. gold_digger's own generator: scripts/test-db.sh seed-bench N
-- runs it (as `SET @n=N, @target='mixed_N';` followed by this file, through the mariadb client).
--
-- Every value is a pure function of the row number r (= id): no RAND(), NOW() or other session
-- input, and the session's time zone is pinned, so two builds of the same size are identical.
-- Rows come from the SEQUENCE engine (MariaDB 10.3+, built in); about 240 bytes a row as TSV.
--
-- The value mix, per column (r = row number):
--   id           BIGINT primary key, r
--   qty          INT, -100000 ..= 100000
--   uid          BIGINT UNSIGNED: 9 rows in 10 a 32-bit value, 1 in 10 any 64-bit value
--                (about half of those above 2^63, where signed readers overflow)
--   amount       DECIMAL(14,4), negative and positive, 4 fraction digits
--   ratio        DOUBLE: 9 in 10 a short decimal (x.xxx), 1 in 10 a full-precision value
--                between 1e-15 and 1e15 (exponent notation in the server's text)
--   score        FLOAT
--   day          DATE, 1970 .. 2079
--   created_at   DATETIME(6), 2001 .. 2023, with microseconds
--   updated_at   TIMESTAMP, 2000 .. 2031 (stored as UTC)
--   dur          TIME: 1 in 50 negative, 1 in 50 above 24 hours, else within a day
--   name         VARCHAR(64): first and last names, accented Latin, CJK, one with an apostrophe
--   email        VARCHAR(255)
--   note         TEXT: 1 row in 5 is hard to escape, by r % 50: 0 commas, 1 double quotes,
--                2 tabs, 3 LF, 4 backslashes, 5 accents/CJK/emoji, 6 all of them and CRLF,
--                7 the empty string, 8 the text 'NULL', 9 the text '\N'; other rows plain words
--   ref_code     VARCHAR(32), NULL in exactly 1 row in 5 (r % 5 = 0)
--   is_active    TINYINT(1), 0 or 1
--   fingerprint  VARBINARY(16): 1 to 16 hash bytes, so NUL, TAB, LF, backslash and invalid
--                UTF-8 all occur
--   attrs        JSON object: a number, a boolean and a string (non-ASCII, an escaped quote)
--   status       ENUM('new','active','suspended','closed')

SET NAMES utf8mb4;
SET SESSION time_zone = '+00:00';
-- Backslash escapes in string literals stay on (no NO_BACKSLASH_ESCAPES).
SET SESSION sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION';
SET SESSION unique_checks = 0, foreign_key_checks = 0;
SET @n = COALESCE(@n, 1000000);
SET @target = COALESCE(@target, 'mixed');

CREATE DATABASE IF NOT EXISTS bench;
USE bench;
-- Built under a work name and renamed at the end, so that an interrupted build never leaves a
-- table that looks complete.
DROP TABLE IF EXISTS bench.gd_mixed_build;

CREATE TABLE bench.gd_mixed_build (
  id          BIGINT          NOT NULL PRIMARY KEY,
  qty         INT             NOT NULL,
  uid         BIGINT UNSIGNED NOT NULL,
  amount      DECIMAL(14,4)   NOT NULL,
  ratio       DOUBLE          NOT NULL,
  score       FLOAT           NOT NULL,
  day         DATE            NOT NULL,
  created_at  DATETIME(6)     NOT NULL,
  updated_at  TIMESTAMP       NOT NULL DEFAULT '2000-01-01 00:00:00',
  dur         TIME            NOT NULL,
  name        VARCHAR(64)     NOT NULL,
  email       VARCHAR(255)    NOT NULL,
  note        TEXT            NOT NULL,
  ref_code    VARCHAR(32)     NULL,
  is_active   TINYINT(1)      NOT NULL,
  fingerprint VARBINARY(16)   NOT NULL,
  attrs       JSON            NOT NULL,
  status      ENUM('new','active','suspended','closed') NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The derived table computes the row's hashes once: d = 40 hex digits of SHA1, c = a CRC32;
-- r is signed, so that the arithmetic below may go negative (seq is BIGINT UNSIGNED).
INSERT INTO bench.gd_mixed_build
SELECT
  g.r,
  MOD(g.r * 48271, 200001) - 100000,
  IF(MOD(g.r, 10) = 3,
     CAST(CONV(LEFT(g.d, 16), 16, 10) AS UNSIGNED),
     g.c),
  (CAST(CONV(SUBSTRING(g.d, 17, 7), 16, 10) AS SIGNED) - 134217728) / 10000,
  IF(MOD(g.r, 10) = 7,
     COS(g.r) * POW(10, MOD(g.r DIV 10, 30) - 15),
     ROUND(g.r / 9, 3)),
  MOD(g.r * 53, 100000) / 7,
  DATE '1970-01-01' + INTERVAL MOD(g.r * 17, 40000) DAY,
  TIMESTAMP '2001-01-01 00:00:00' + INTERVAL MOD(g.r * 104729, 700000000) SECOND
                                  + INTERVAL MOD(g.r * 13, 1000000) MICROSECOND,
  FROM_UNIXTIME(946684800 + MOD(g.r * 7907, 1000000000)),
  CASE MOD(g.r, 50)
    WHEN 11 THEN SEC_TO_TIME(-MOD(g.r * 7, 3000000))
    WHEN 12 THEN SEC_TO_TIME(86400 + MOD(g.r, 2000000))
    ELSE SEC_TO_TIME(MOD(g.r * 3, 86400)) END,
  CONCAT(ELT(1 + MOD(g.r, 16), 'Ada', 'Bruno', 'Céline', 'Dmitri', 'Eun-ji', '陈', 'Fatou', 'Grete',
                               'Hiroshi', 'Inès', 'Jonas', 'Kalinda', 'Łukasz', 'Mei', 'Noor', 'Øystein'),
         ' ',
         ELT(1 + MOD(g.r DIV 16, 16), 'Adeyemi', 'Bauer', 'Chen', 'D''Angelo', 'Eriksen', 'Fernández',
                                      '佐藤', 'Gupta', 'Haddad', 'Ivanova', 'Jensen', 'Kovač', 'Lopez',
                                      'Moreau', 'Novak', 'Okafor')),
  CONCAT(ELT(1 + MOD(g.r, 8), 'ada', 'bruno', 'celine', 'dima', 'eunji', 'chen', 'fatou', 'grete'),
         '.', g.r, '@',
         ELT(1 + MOD(g.r, 5), 'example.org', 'mail.example', 'shop.test', 'corp.invalid', 'web.test')),
  CASE MOD(g.r, 50)
    WHEN 0 THEN CONCAT('red, green, blue #', g.r)
    WHEN 1 THEN CONCAT('the "best" offer ', g.r)
    WHEN 2 THEN CONCAT('col1\tcol2\t', g.r)
    WHEN 3 THEN CONCAT('first line\nsecond line ', g.r)
    WHEN 4 THEN CONCAT('D:\\exports\\', g.r)
    WHEN 5 THEN CONCAT('naïve 日本語 ', g.r, ' 🚀')
    WHEN 6 THEN CONCAT('a, "b"\tc\r\n\\ ß 🙂 ', g.r)
    WHEN 7 THEN ''
    WHEN 8 THEN 'NULL'
    WHEN 9 THEN '\\N'
    ELSE SUBSTRING('the quick brown fox jumps over the lazy dog while five boxing wizards jump quickly past',
                   1 + MOD(g.r, 20), 8 + MOD(g.r, 25)) END,
  IF(MOD(g.r, 5) = 0, NULL, CONCAT('RC-', UPPER(SUBSTRING(g.d, 25, 8)))),
  MOD(g.r, 3) <> 1,
  LEFT(UNHEX(g.d), 1 + MOD(g.r, 16)),
  JSON_OBJECT('n', MOD(g.r, 97),
              'flag', JSON_EXTRACT(IF(MOD(g.r, 2) = 0, 'true', 'false'), '$'),
              'tag', ELT(1 + MOD(g.r, 4), 'plain', 'ß', 'q"q', 'z')),
  ELT(1 + MOD(g.r * 5, 4), 'new', 'active', 'suspended', 'closed')
FROM (SELECT CAST(seq AS SIGNED) AS r, SHA1(seq) AS d, CRC32(seq) AS c
        FROM seq_1_to_10000000000 WHERE seq <= @n) AS g;

ANALYZE TABLE bench.gd_mixed_build;

SET @sql = CONCAT('DROP TABLE IF EXISTS bench.`', @target, '`');
PREPARE st FROM @sql; EXECUTE st; DEALLOCATE PREPARE st;
SET @sql = CONCAT('RENAME TABLE bench.gd_mixed_build TO bench.`', @target, '`');
PREPARE st FROM @sql; EXECUTE st; DEALLOCATE PREPARE st;

SELECT table_name, table_rows, data_length
  FROM information_schema.tables
 WHERE table_schema = 'bench' AND table_name = @target;
