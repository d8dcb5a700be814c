/** int8 and numeric come back as `bigint` from both drivers (the gateway stores only whole numbers in them). */
export const BIGINT_OIDS = [20, 1700];
export const asBigInt = (text: string) => BigInt(text);
