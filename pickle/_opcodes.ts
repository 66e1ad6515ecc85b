// Copyright the pysocklog authors. MIT license.
// Pickle opcodes and size thresholds used by the protocol-2 encoder.
// Names follow CPython's Lib/pickle.py.

/** `\x80 n`: protocol marker. */
export const PROTO = 0x80;
/** `.`: end of the pickle. */
export const STOP = 0x2e;
/** `(`: push a mark. */
export const MARK = 0x28;
/** `0`: discard the top of the stack. */
export const POP = 0x30;
/** `1`: discard the stack through the topmost mark. */
export const POP_MARK = 0x31;
/** `N`: push None. */
export const NONE = 0x4e;
/** `\x88`: push True. */
export const NEWTRUE = 0x88;
/** `\x89`: push False. */
export const NEWFALSE = 0x89;
/** `K`: push a 1-byte unsigned int. */
export const BININT1 = 0x4b;
/** `M`: push a 2-byte unsigned little-endian int. */
export const BININT2 = 0x4d;
/** `J`: push a 4-byte signed little-endian int. */
export const BININT = 0x4a;
/** `\x8a`: push a long of at most 255 two's-complement bytes. */
export const LONG1 = 0x8a;
/** `\x8b`: push a long with a 4-byte length. */
export const LONG4 = 0x8b;
/** `G`: push an 8-byte big-endian IEEE 754 double. */
export const BINFLOAT = 0x47;
/** `X`: push a UTF-8 str with a 4-byte length. */
export const BINUNICODE = 0x58;
/** `]`: push an empty list. */
export const EMPTY_LIST = 0x5d;
/** `a`: append one item to a list. */
export const APPEND = 0x61;
/** `e`: extend a list by the items through the mark. */
export const APPENDS = 0x65;
/** `}`: push an empty dict. */
export const EMPTY_DICT = 0x7d;
/** `s`: set one key in a dict. */
export const SETITEM = 0x73;
/** `u`: set the key/value pairs through the mark. */
export const SETITEMS = 0x75;
/** `)`: push an empty tuple. */
export const EMPTY_TUPLE = 0x29;
/** `t`: build a tuple from the items through the mark. */
export const TUPLE = 0x74;
/** `\x85`: build a 1-tuple. */
export const TUPLE1 = 0x85;
/** `\x86`: build a 2-tuple. */
export const TUPLE2 = 0x86;
/** `\x87`: build a 3-tuple. */
export const TUPLE3 = 0x87;
/** `c`: push a global named by two newline-terminated lines. */
export const GLOBAL = 0x63;
/** `R`: call a callable with an argument tuple. */
export const REDUCE = 0x52;
/** `q`: store the top of the stack in a 1-byte memo slot. */
export const BINPUT = 0x71;
/** `r`: store the top of the stack in a 4-byte memo slot. */
export const LONG_BINPUT = 0x72;
/** `h`: push a 1-byte memo slot. */
export const BINGET = 0x68;
/** `j`: push a 4-byte memo slot. */
export const LONG_BINGET = 0x6a;

/** Largest memo index that fits BINPUT/BINGET. */
export const MAX_BINPUT = 0xff;
/** Smallest int BININT1 cannot hold is this; BININT1 holds 0..255. */
export const BININT1_LIMIT = 0x100;
/** BININT2 holds 0..65535. */
export const BININT2_LIMIT = 0x10000;
/** BININT holds a signed 32-bit int: from this... */
export const BININT_MIN = -0x80000000;
/** ...to this. */
export const BININT_MAX = 0x7fffffff;
/** LONG1 holds at most this many bytes. */
export const LONG1_MAX_BYTES = 0xff;
/** Items per APPENDS/SETITEMS batch, as CPython's `_BATCHSIZE`. */
export const BATCH_SIZE = 1000;
/** Largest length a 4-byte unsigned field (BINUNICODE, frame prefix) can hold. */
export const MAX_UINT32 = 0xffffffff;

// Opcodes only the decoder reads (it reads every data opcode of protocols
// 0 to 5; the encoder writes protocol 2 only).

/** `2`: push a copy of the top of the stack. */
export const DUP = 0x32;
/** `F`: push a float written as text. */
export const FLOAT = 0x46;
/** `I`: push an int written as text (`I01`/`I00`: True/False). */
export const INT = 0x49;
/** `L`: push a long written as text. */
export const LONG = 0x4c;
/** `P`: push a persistent object by a text id (refused). */
export const PERSID = 0x50;
/** `Q`: push a persistent object by an id on the stack (refused). */
export const BINPERSID = 0x51;
/** `S`: push a quoted Python 2 str. */
export const STRING = 0x53;
/** `T`: push a Python 2 str with a 4-byte length. */
export const BINSTRING = 0x54;
/** `U`: push a Python 2 str with a 1-byte length. */
export const SHORT_BINSTRING = 0x55;
/** `V`: push a str in raw-unicode-escape text. */
export const UNICODE = 0x56;
/** `b`: set the state of an object. */
export const BUILD = 0x62;
/** `d`: build a dict from the pairs through the mark. */
export const DICT = 0x64;
/** `g`: push a memo slot named in text. */
export const GET = 0x67;
/** `i`: build an instance of a global named in text. */
export const INST = 0x69;
/** `l`: build a list from the items through the mark. */
export const LIST = 0x6c;
/** `o`: build an instance from the class and args through the mark. */
export const OBJ = 0x6f;
/** `p`: store the top of the stack in a memo slot named in text. */
export const PUT = 0x70;
/** `B`: push bytes with a 4-byte length. */
export const BINBYTES = 0x42;
/** `C`: push bytes with a 1-byte length. */
export const SHORT_BINBYTES = 0x43;
/** `\x81`: build an object by `cls.__new__(cls, *args)`. */
export const NEWOBJ = 0x81;
/** `\x82`: push an extension-registry object by a 1-byte code (refused). */
export const EXT1 = 0x82;
/** `\x83`: as EXT1 with a 2-byte code (refused). */
export const EXT2 = 0x83;
/** `\x84`: as EXT1 with a 4-byte code (refused). */
export const EXT4 = 0x84;
/** `\x8c`: push a UTF-8 str with a 1-byte length. */
export const SHORT_BINUNICODE = 0x8c;
/** `\x8d`: push a UTF-8 str with an 8-byte length. */
export const BINUNICODE8 = 0x8d;
/** `\x8e`: push bytes with an 8-byte length. */
export const BINBYTES8 = 0x8e;
/** `\x8f`: push an empty set. */
export const EMPTY_SET = 0x8f;
/** `\x90`: add the items through the mark to a set. */
export const ADDITEMS = 0x90;
/** `\x91`: build a frozenset from the items through the mark. */
export const FROZENSET = 0x91;
/** `\x92`: build an object by `cls.__new__(cls, *args, **kwargs)`. */
export const NEWOBJ_EX = 0x92;
/** `\x93`: push a global named by the two strs on the stack. */
export const STACK_GLOBAL = 0x93;
/** `\x94`: store the top of the stack in the next memo slot. */
export const MEMOIZE = 0x94;
/** `\x95`: a protocol-4 frame header with an 8-byte length. */
export const FRAME = 0x95;
/** `\x96`: push a bytearray with an 8-byte length. */
export const BYTEARRAY8 = 0x96;
/** `\x97`: push an out-of-band buffer (refused). */
export const NEXT_BUFFER = 0x97;
/** `\x98`: make the top buffer read-only (refused with NEXT_BUFFER). */
export const READONLY_BUFFER = 0x98;
