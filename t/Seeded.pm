package t::Seeded;

# The generator of the generated cases (t/082, t/150, t/151): xorshift32
# from a fixed seed, so that a file generates the same cases on every
# machine and every Perl.
#
#     my $g = t::Seeded->new(150);
#     $g->rnd(10);            # 0 .. 9
#     $g->pick(@list);        # one of them

use strict;
use warnings;

sub new {
    my ($class, $seed) = @_;
    return bless { seed => $seed }, $class;
}

sub rnd {
    my ($self, $n) = @_;
    my $s = $self->{seed};

    $s ^= ($s << 13) & 0xffffffff;
    $s ^= $s >> 17;
    $s ^= ($s << 5) & 0xffffffff;

    $self->{seed} = $s;

    return $s % $n;
}

sub pick {
    my $self = shift;
    return $_[$self->rnd(scalar @_)];
}

1;
