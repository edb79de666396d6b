# Makes JWTs for the tests with the openssl command line and the keys of
# t/data (written once by tools/make-test-keys).
#
#     use lib "$FindBin::Bin/data";
#     use TestJWT qw(jwt);
#
#     jwt('RS256', 'rsa1', { sub => 'u1' }, kid => 'rsa1');
#     jwt('HS256', 'hs', ...);        # the secret of t/data/hs.hex
#     jwt('HS256', \$secret, ...);    # any secret
#
# Options: kid, header (extra header fields, or a full replacement with
# header_json), pad (base64url with "=" padding), exp_in / nbf_in (seconds
# from now).

package TestJWT;

use strict;
use warnings;

use Digest::SHA qw(hmac_sha256 hmac_sha384 hmac_sha512);
use Exporter 'import';
use File::Basename qw(dirname);
use File::Spec;
use File::Temp qw(tempfile);
use JSON::PP;
use MIME::Base64 qw(encode_base64url);

our @EXPORT_OK = qw(jwt b64u data_dir tamper);

my $Dir = File::Spec->rel2abs(dirname(__FILE__));
my $Json = JSON::PP->new->canonical;

sub data_dir { $Dir }

sub b64u {
    my ($bytes, $pad) = @_;
    my $s = encode_base64url($bytes);
    $s .= '=' x ((4 - length($s) % 4) % 4) if $pad;
    return $s;
}

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or die "$file: $!\n";
    local $/;
    return scalar <$fh>;
}

sub openssl_sign {
    my ($input, $args) = @_;
    my ($fh, $in) = tempfile(UNLINK => 1);
    binmode $fh;
    print $fh $input;
    close $fh;
    my $sig = `openssl dgst $args -binary $in`;
    die "TestJWT: openssl dgst $args failed\n" if $? || !length $sig;
    return $sig;
}

# DER ECDSA-Sig-Value to the JWS form: r and s, each padded to the size
sub der_to_raw {
    my ($der, $size) = @_;
    my @b = unpack("C*", $der);
    my $i = 0;
    die "TestJWT: not a DER sequence\n" unless $b[$i++] == 0x30;
    my $len = $b[$i++];
    $i += $len & 0x7f if $len & 0x80;
    my $raw = '';
    for (1 .. 2) {
        die "TestJWT: not a DER integer\n" unless $b[$i++] == 0x02;
        my $n = $b[$i++];
        my $int = pack("C*", @b[$i .. $i + $n - 1]);
        $i += $n;
        $int =~ s/^\x00+//;
        $raw .= ("\x00" x ($size - length $int)) . $int;
    }
    return $raw;
}

sub sign {
    my ($alg, $key, $input) = @_;
    my ($family, $bits) = $alg =~ /^(HS|RS|PS|ES)(256|384|512)$/
        or die "TestJWT: unknown alg $alg\n";

    if ($family eq 'HS') {
        my $secret = ref $key ? $$key
                     : pack("H*", (split /\s+/, slurp("$Dir/$key.hex"))[0]);
        no strict 'refs';
        return &{"hmac_sha$bits"}($input, $secret);
    }

    my $file = "$Dir/$key.key";

    if ($family eq 'RS') {
        return openssl_sign($input, "-sha$bits -sign $file");
    }

    if ($family eq 'PS') {
        return openssl_sign($input, "-sha$bits -sign $file"
                            . " -sigopt rsa_padding_mode:pss"
                            . " -sigopt rsa_pss_saltlen:-1");
    }

    my %size = (256 => 32, 384 => 48, 512 => 66);
    return der_to_raw(openssl_sign($input, "-sha$bits -sign $file"),
                      $size{$bits});
}

sub jwt {
    my ($alg, $key, $claims, %o) = @_;

    my %claims = %{ $claims // {} };
    $claims{exp} = time + $o{exp_in} if defined $o{exp_in};
    $claims{nbf} = time + $o{nbf_in} if defined $o{nbf_in};

    my %header = (alg => $alg, typ => 'JWT');
    $header{kid} = $o{kid} if defined $o{kid};
    %header = (%header, %{ $o{header} }) if $o{header};

    my $h = $o{header_json} // $Json->encode(\%header);
    my $p = $o{payload_json} // $Json->encode(\%claims);
    my $input = b64u($h, $o{pad}) . '.' . b64u($p, $o{pad});

    return "$input." if $alg eq 'none';

    return $input . '.' . b64u(sign($alg, $key, $input), $o{pad});
}

# the same signature over other claims
sub tamper {
    my ($token, $claims) = @_;
    my ($h, undef, $s) = split /\./, $token;
    return join '.', $h, b64u($Json->encode($claims)), $s;
}

1;
