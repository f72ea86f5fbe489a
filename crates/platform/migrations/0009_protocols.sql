-- Many protocols in, one city out (issue 22).
--
-- Lots register and are sent messages per protocol: `protocol` names the link
-- ('qdpark' for everything before this migration). A downlink's `interface`
-- is the message kind within its protocol and `payload` what that link
-- publishes, byte-identical on every attempt.
ALTER TABLE lot_access ADD COLUMN protocol TEXT NOT NULL DEFAULT 'qdpark';
ALTER TABLE downlinks ADD COLUMN protocol TEXT NOT NULL DEFAULT 'qdpark';

-- A lot's description in the city's terms; `content` keeps what the lot sent.
-- Rows stored before this migration have them NULL until their link fills
-- them in at start (`link::qdpark::records::upgrade`).
ALTER TABLE parking_info ADD COLUMN name TEXT;
ALTER TABLE parking_info ADD COLUMN address TEXT;
ALTER TABLE parking_info ADD COLUMN longitude TEXT;
ALTER TABLE parking_info ADD COLUMN latitude TEXT;
