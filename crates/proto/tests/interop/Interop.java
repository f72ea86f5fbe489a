// Independent implementation of the Qingdao envelope with nothing but the JDK
// (javax.crypto RSA/ECB/PKCS1Padding, java.security SHA1withRSA/MD5withRSA),
// written the way public Java lot clients write it. It produces the interop
// fixtures onepark must open, and opens what onepark seals.
//
//   java Interop.java produce KEYDIR OUTDIR     write fixtures (form bodies + expected plaintexts)
//   java Interop.java open PROFILE PLATFORM_PRIVATE LOT_PUBLIC < form-body
//                                              verify + decrypt, print the plaintext
//
// Run from this directory; `./regen.sh` does both producers.

import java.io.ByteArrayOutputStream;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.interfaces.RSAKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import javax.crypto.Cipher;

public class Interop {
    static final String ENTRY = "{\"uid\":\"100112021070108000012\",\"arrivalID\":\"1\",\"plateNo\":\"鲁B01C01\","
            + "\"carType\":1,\"parkingCode\":\"1001\",\"entryNum\":\"1\",\"totalBerthNum\":150,\"openBerthNum\":130,"
            + "\"freeBerthNum\":70,\"arriveTime\":\"2021-07-01 08:00:00\",\"parkingType\":1,\"plateColor\":1,"
            + "\"uploadTime\":\"2021-07-01 08:00:01\"}";

    public static void main(String[] args) throws Exception {
        if (args.length == 3 && args[0].equals("produce")) {
            produce(Path.of(args[1]), Path.of(args[2]));
        } else if (args.length == 4 && args[0].equals("open")) {
            String body = new String(System.in.readAllBytes(), StandardCharsets.UTF_8).trim();
            System.out.print(open(args[1], privateKey(read(Path.of(args[2]))), publicKey(read(Path.of(args[3]))), body));
        } else {
            System.err.println("usage: java Interop.java produce KEYDIR OUTDIR | open PROFILE PLATFORM_PRIVATE LOT_PUBLIC");
            System.exit(2);
        }
    }

    static String read(Path p) throws Exception {
        return Files.readString(p).trim();
    }

    static PrivateKey privateKey(String b64) throws Exception {
        return KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(Base64.getMimeDecoder().decode(b64)));
    }

    static PublicKey publicKey(String b64) throws Exception {
        return KeyFactory.getInstance("RSA").generatePublic(new X509EncodedKeySpec(Base64.getMimeDecoder().decode(b64)));
    }

    static int blockSize(java.security.Key key) {
        return ((RSAKey) key).getModulus().bitLength() / 8;
    }

    /** RSA in chunks of k-11 bytes, blocks concatenated. */
    static byte[] encrypt(java.security.Key key, byte[] plain) throws Exception {
        Cipher cipher = Cipher.getInstance("RSA/ECB/PKCS1Padding");
        cipher.init(Cipher.ENCRYPT_MODE, key);
        int chunk = blockSize(key) - 11;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int off = 0; off < plain.length; off += chunk) {
            out.write(cipher.doFinal(plain, off, Math.min(chunk, plain.length - off)));
        }
        return out.toByteArray();
    }

    static byte[] decrypt(java.security.Key key, byte[] data) throws Exception {
        Cipher cipher = Cipher.getInstance("RSA/ECB/PKCS1Padding");
        cipher.init(Cipher.DECRYPT_MODE, key);
        int k = blockSize(key);
        if (data.length % k != 0) throw new IllegalArgumentException("ciphertext not a multiple of " + k);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int off = 0; off < data.length; off += k) {
            out.write(cipher.doFinal(data, off, k));
        }
        return out.toByteArray();
    }

    static String sign(String algorithm, PrivateKey key, String text) throws Exception {
        Signature s = Signature.getInstance(algorithm);
        s.initSign(key);
        s.update(text.getBytes(StandardCharsets.UTF_8));
        return Base64.getEncoder().encodeToString(s.sign());
    }

    static String form(String accessId, String cipher, String sign, boolean urlEncode) {
        if (!urlEncode) return "accessID=" + accessId + "&cipher=" + cipher + "&sign=" + sign;
        return "accessID=" + URLEncoder.encode(accessId, StandardCharsets.UTF_8)
                + "&cipher=" + URLEncoder.encode(cipher, StandardCharsets.UTF_8)
                + "&sign=" + URLEncoder.encode(sign, StandardCharsets.UTF_8);
    }

    static void write(Path out, String name, String profile, String body, String expected) throws Exception {
        Files.writeString(out.resolve(name + "." + profile + ".form"), body + "\n");
        Files.writeString(out.resolve(name + ".json"), expected);
    }

    static void produce(Path keys, Path out) throws Exception {
        PrivateKey lot = privateKey(read(keys.resolve("lot_private.b64")));
        PublicKey platform = publicKey(read(keys.resolve("platform_public.b64")));
        Base64.Encoder b64 = Base64.getEncoder();
        String wrapped = "{\"data\":" + ENTRY + "}";

        // 1. The spec, as a careful client does it.
        String c = b64.encodeToString(encrypt(platform, wrapped.getBytes(StandardCharsets.UTF_8)));
        write(out, "java-standard", "qingdao", form("234", c, sign("SHA1withRSA", lot, c), true), wrapped);

        // 2. MIME Base64 (CRLF every 76 chars, as commons-codec 1.4 / sun.misc.BASE64Encoder);
        //    the signature covers the text with its line breaks.
        Base64.Encoder mime = Base64.getMimeEncoder();
        c = mime.encodeToString(encrypt(platform, wrapped.getBytes(StandardCharsets.UTF_8)));
        Signature s = Signature.getInstance("SHA1withRSA");
        s.initSign(lot);
        s.update(c.getBytes(StandardCharsets.UTF_8));
        String mimeSign = mime.encodeToString(s.sign());
        write(out, "java-mime", "qingdao", form("234", c, mimeSign, true), wrapped);

        // 3. Not URL-encoded: every `+` turns into a space when the form is decoded.
        String plus;
        do {
            c = b64.encodeToString(encrypt(platform, wrapped.getBytes(StandardCharsets.UTF_8)));
            plus = sign("SHA1withRSA", lot, c);
        } while (!c.contains("+"));
        write(out, "java-unencoded", "qingdao", form("234", c, plus, false), wrapped);

        // 4. Each block Base64-encoded on its own, strings concatenated.
        byte[] raw = encrypt(platform, wrapped.getBytes(StandardCharsets.UTF_8));
        StringBuilder perBlock = new StringBuilder();
        for (int off = 0; off < raw.length; off += 128) {
            perBlock.append(b64.encodeToString(java.util.Arrays.copyOfRange(raw, off, off + 128)));
        }
        c = perBlock.toString();
        write(out, "java-per-block", "qingdao", form("234", c, sign("SHA1withRSA", lot, c), true), wrapped);

        // 5. GBK plaintext: old Java getBytes() on Chinese Windows.
        c = b64.encodeToString(encrypt(platform, wrapped.getBytes(Charset.forName("GBK"))));
        write(out, "java-gbk", "qingdao", form("234", c, sign("SHA1withRSA", lot, c), true), wrapped);

        // 6. `data` as a string holding JSON (a public Qingdao client, hutool JSONUtil).
        String asString = "{\"data\":\"" + ENTRY.replace("\"", "\\\"") + "\"}";
        c = b64.encodeToString(encrypt(platform, asString.getBytes(StandardCharsets.UTF_8)));
        write(out, "java-data-string", "qingdao", form("234", c, sign("SHA1withRSA", lot, c), true), asString);

        // 7. Multi-byte characters straddling the 117-byte chunk boundary.
        String pad = "{\"data\":{\"parkingName\":\"" + "x".repeat(117 - 25) + "吴山广场停车场\"}}";
        byte[] padBytes = pad.getBytes(StandardCharsets.UTF_8);
        c = b64.encodeToString(encrypt(platform, padBytes));
        write(out, "java-straddle", "qingdao", form("234", c, sign("SHA1withRSA", lot, c), true), pad);

        // 8. Hangzhou variant: the lot's PRIVATE key encrypts, MD5withRSA signs.
        c = b64.encodeToString(encrypt(lot, wrapped.getBytes(StandardCharsets.UTF_8)));
        write(out, "java-hangzhou", "hangzhou", form("234", c, sign("MD5withRSA", lot, c), true), wrapped);

        // 9. 2048-bit keys: 245-byte chunks, 256-byte blocks.
        PrivateKey lot2048 = privateKey(read(keys.resolve("lot2048_private.b64")));
        PublicKey platform2048 = publicKey(read(keys.resolve("platform2048_public.b64")));
        c = b64.encodeToString(encrypt(platform2048, wrapped.getBytes(StandardCharsets.UTF_8)));
        write(out, "java-2048", "qingdao", form("234", c, sign("SHA1withRSA", lot2048, c), true), wrapped);
    }

    static String open(String profile, PrivateKey platform, PublicKey lot, String body) throws Exception {
        Map<String, String> fields = new HashMap<>();
        for (String pair : body.split("&")) {
            int eq = pair.indexOf('=');
            fields.put(pair.substring(0, eq), URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
        }
        String cipher = fields.get("cipher");
        boolean hangzhou = profile.equals("hangzhou");
        Signature s = Signature.getInstance(hangzhou ? "MD5withRSA" : "SHA1withRSA");
        s.initVerify(lot);
        s.update(cipher.getBytes(StandardCharsets.UTF_8));
        if (!s.verify(Base64.getDecoder().decode(fields.get("sign")))) {
            throw new SecurityException("signature does not verify");
        }
        byte[] plain = decrypt(hangzhou ? lot : platform, Base64.getDecoder().decode(cipher));
        return new String(plain, StandardCharsets.UTF_8);
    }
}
